"""The two neural models, run with onnxruntime and tokenizers: a bi-encoder (LangChain `Embeddings`) and a cross-encoder."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from store.cpu import has_int8_dot_product
from store.models import BGE_SMALL_EN, COLBERT_SMALL, MINILM_RERANKER, ModelSpec
from store.onnx_int8 import derived
from store.saved_vectors import SavedVectors
from store.sentence_head import SentenceHead

# Indexing the realdocs corpus (26 files, 4,224 chunks): batches of 32 peaked at 1.40 GB in 90 s, of 16 at 0.74-1.1 GB
# (from run to run) in 78 s, of 8 at 0.54 GB in 85 s (each batch's activations grow with its length squared)
EMBED_BATCH = 8
# The cross-encoder scores a few short pairs per turn, too few for two threads to share a batch well: one pair per
# run, one thread each, as many at a time as there are cores (up to 4), took 15-20% less time than batches of 4 on
# two threads (4-11 NYT pairs per call, median of 5 runs), and a pair's score no longer depends on the pairs batched
# with it (the int8 model quantises each batch's activations together: up to 0.7 logit apart).
RERANK_BATCH = 1
RERANK_WORKERS = max(1, min(os.cpu_count() or 1, 4))
Progress = Callable[[int], None]  # called with the number of texts just finished


class _OnnxBert:
    """A BERT-style ONNX model with its tokenizer, loaded on first use; batches are sorted by length to pad little.
    With `workers` > 1, each batch runs on one thread, that many batches at a time (onnxruntime runs one session
    from several threads)."""

    def __init__(self, spec: ModelSpec, threads: int | None = None, batch_size: int = EMBED_BATCH, workers: int = 1,
                 cache: Path | None = None, states: tuple[str, ...] = ()):
        """`states`: inner tensors of the model made outputs, whose first token `run` returns too."""
        self.spec = spec
        self.states = states
        self.cache = cache
        self.batch_size = batch_size
        self.workers = workers
        self._threads = 1 if workers > 1 else threads or os.cpu_count() or 1
        self._session = None
        self._tokenizer = None
        self._pool: ThreadPoolExecutor | None = None
        self._marked: dict = {}
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(self.spec.path("tokenizer.json")))
                tokenizer.enable_truncation(max_length=self.spec.max_length)
                tokenizer.no_padding()
                options = ort.SessionOptions()
                options.intra_op_num_threads = self._threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                # no memory arena: it kept ~600 MB after one batch of long texts, for no speed gain (measured)
                options.enable_cpu_mem_arena = False
                # idle threads sleep rather than spin: three models take turns on two cores, and a session whose
                # threads spun after its run slowed the next model's (a turn 25-35% slower, measured on CoQA)
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._session = ort.InferenceSession(self._model(), sess_options=options,
                                                     providers=["CPUExecutionProvider"])
                self._tokenizer = tokenizer
                if self.workers > 1:
                    self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self.spec.name)
        return self._session, self._tokenizer

    def _model(self) -> str | bytes:
        """The verified model file; or derived from it (kept in the cache folder, when there is one): made exact on a
        CPU whose int8 kernels saturate, and with the inner states asked for as outputs."""
        path = self.spec.path("model.onnx")
        recast = not has_int8_dot_product()
        if not recast and not self.states:
            return str(path)
        return derived(path, dict(self.spec.files)["model.onnx"], self.cache, recast=recast, outputs=self.states)

    def _marking(self, marker: str):
        """The tokenizer with `marker` put after [CLS] of every single text (ColBERT's query or document marker),
        made once."""
        with self._lock:
            if marker not in self._marked:
                from tokenizers import Tokenizer
                from tokenizers.processors import TemplateProcessing

                tokenizer = Tokenizer.from_str(self._tokenizer.to_str())
                ids = {t: tokenizer.token_to_id(t) for t in ("[CLS]", marker, "[SEP]")}
                tokenizer.post_processor = TemplateProcessing(single=f"[CLS] {marker} $A [SEP]",
                                                              special_tokens=list(ids.items()))
                self._marked[marker] = tokenizer
            return self._marked[marker]

    def run(self, inputs: Sequence, progress: Progress | None = None, marker: str | None = None,
            first_token: bool = False) -> list[np.ndarray]:
        """The model's first output for each input (a text or a pair of texts), in input order; a per-token
        output is cut to the input's own tokens, or to its first one with `first_token`. Each is a copy, so a
        batch's output (padded to its longest input) is not kept alive by one row of it. `marker`: a token put
        after [CLS] of each text. With `states`, each result is a pair: that output, and the states' first tokens
        joined in one vector."""
        session, tokenizer = self._load()
        if marker is not None:
            tokenizer = self._marking(marker)
        encodings = tokenizer.encode_batch(list(inputs))
        outputs = [session.get_outputs()[0].name, *self.states]
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        batches = [order[at : at + self.batch_size] for at in range(0, len(order), self.batch_size)]
        results: list[np.ndarray | None] = [None] * len(encodings)

        def run_batch(batch: list[int]) -> None:
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            types = np.zeros_like(ids)
            for row, i in enumerate(batch):
                enc = encodings[i]
                n = len(enc.ids)
                ids[row, :n] = enc.ids
                mask[row, :n] = enc.attention_mask
                types[row, :n] = enc.type_ids
            output, *states = session.run(outputs, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
            for row, i in enumerate(batch):
                if output.ndim == 3:
                    results[i] = output[row, 0].copy() if first_token else output[row, : len(encodings[i].ids)].copy()
                else:
                    results[i] = output[row].copy()
                if states:
                    results[i] = (results[i], np.concatenate([state[row, 0] for state in states]))

        if self._pool is not None and len(batches) > 1:
            for batch, _ in zip(batches, self._pool.map(run_batch, batches), strict=True):
                if progress:
                    progress(len(batch))
        else:
            for batch in batches:
                run_batch(batch)
                if progress:
                    progress(len(batch))
        return results  # type: ignore[return-value]


class OnnxEmbeddings(Embeddings):
    """Sentence embeddings from a verified local ONNX model (bge-small by default): CLS pooling, unit length."""

    def __init__(self, spec: ModelSpec = BGE_SMALL_EN, threads: int | None = None, cache: Path | None = None):
        """`cache`: a folder for what is derived from the model files and can be made again (StoreSettings.cache)."""
        self.spec = spec
        self._model = _OnnxBert(spec, threads, cache=cache)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dimension(self) -> int:
        return self.spec.dimension

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Unit vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.spec.dimension), dtype=np.float32)
        vectors = np.stack(self._model.run(texts, progress, first_token=True)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed([self.spec.query_prefix + text])[0].tolist()


class CrossEncoder:
    """Scores how well a passage answers a query, with a verified local ms-marco MiniLM cross-encoder; and how well
    a sentence answers a question, with a head trained on questions and the sentences holding their answers
    (`store/sentence_head.py`)."""

    def __init__(self, spec: ModelSpec = MINILM_RERANKER, threads: int | None = None, cache: Path | None = None,
                 head: SentenceHead | None = None):
        """`head`: the sentence head (None: the one shipped for this model)."""
        self.spec = spec
        self.head = head or SentenceHead.shipped(spec)
        self._model = _OnnxBert(spec, threads, RERANK_BATCH, workers=RERANK_WORKERS if threads is None else 1,
                                cache=cache, states=(self.head.state,))

    @property
    def name(self) -> str:
        return self.spec.name

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """A relevance logit per passage (higher is better; above 0 is usually relevant)."""
        return [logit for logit, _ in self.read(query, passages)]

    def score_sentences(self, query: str, sentences: Sequence[str]) -> list[tuple[float, float]]:
        """Per sentence, the relevance logit and the head's score of it as the answer (higher is better; the
        scores compare the sentences of one question, not across questions)."""
        return [(logit, self.head.score(logit, state)) for logit, state in self.read(query, sentences)]

    def read(self, query: str, sentences: Sequence[str]) -> list[tuple[float, np.ndarray]]:
        """Per sentence, the relevance logit and the state the head reads."""
        if not sentences:
            return []
        return [(float(out[0]), state) for out, state in self._model.run([(query, s) for s in sentences])]


# ColBERT's markers, in BERT's vocabulary
QUERY_MARKER, DOCUMENT_MARKER = "[unused0]", "[unused1]"


class LateInteraction:
    """ColBERT scoring (answerai-colbert-small-v1, verified and local): each text is a matrix of unit token
    vectors, and a query's score against a text is the sum over its tokens of the best cosine among the text's.
    Texts are encoded once and kept (the last `keep` of them, about 25 KB each at 16 bits), so a conversation's
    sentences cost one pass."""

    def __init__(self, spec: ModelSpec = COLBERT_SMALL, threads: int | None = None, keep: int = 2048,
                 cache: Path | None = None):
        """`cache`: a folder where documents' sentence vectors are saved for the next process (and the recast
        model, where the CPU needs one)."""
        self.spec = spec
        # one sentence per run, as for the cross-encoder: 29 sentences of the bundled article took 0.43 s so, on two
        # threads, against 2.2 s in one batch of 32 (padded to the longest); and a sentence's vectors no longer
        # depend on the sentences batched with it, so vectors read back from disk are those a turn would compute
        self._model = _OnnxBert(spec, threads, RERANK_BATCH, workers=RERANK_WORKERS if threads is None else 1,
                                cache=cache)
        self._keep = keep
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        model = dict(spec.files)["model.onnx"][:16]
        self._saved = SavedVectors(cache / "colbert" / f"{spec.name}-{model}-v1", spec.dimension) if cache else None

    @property
    def name(self) -> str:
        return self.spec.name

    def _unit(self, hidden: np.ndarray) -> np.ndarray:
        return (hidden / np.linalg.norm(hidden, axis=1, keepdims=True).clip(min=1e-12)).astype(np.float16)

    def _keep_vectors(self, vectors: dict[str, np.ndarray], texts: Sequence[str]) -> None:
        with self._lock:
            for text in dict.fromkeys(texts):
                self._vectors[text] = vectors[text]
                self._vectors.move_to_end(text)
            while len(self._vectors) > self._keep:
                self._vectors.popitem(last=False)

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> list[np.ndarray]:
        """Each text's token vectors (float16, unit rows), from the kept ones where possible."""
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            known.update(zip(missing, (self._unit(h) for h in self._model.run(missing, progress, DOCUMENT_MARKER)),
                             strict=True))
        self._keep_vectors(known, texts)
        return [known[t] for t in texts]

    def encode_document(self, sentences: Sequence[str]) -> None:
        """Encode one document's sentences and keep them, also on disk: the next process reads them back (`recall`)
        rather than encoding them."""
        sentences = list(dict.fromkeys(sentences))
        if not sentences or self.recall(sentences):
            return
        vectors = self.encode(sentences)
        if self._saved is not None:
            self._saved.write(sentences, vectors)

    def recall(self, sentences: Sequence[str]) -> bool:
        """Keep the vectors `encode_document` saved for these sentences, if it did; whether it had."""
        sentences = list(dict.fromkeys(sentences))
        saved = self._saved.read(sentences) if self._saved is not None else None
        if saved is None:
            return False
        self._keep_vectors(dict(zip(sentences, saved, strict=True)), sentences)
        return True

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        """MaxSim of the query against each text (higher is better)."""
        if not texts:
            return []
        question = self._unit(self._model.run([query], marker=QUERY_MARKER)[0]).astype(np.float32)
        return [float((question @ vectors.astype(np.float32).T).max(axis=1).sum()) for vectors in self.encode(texts)]
