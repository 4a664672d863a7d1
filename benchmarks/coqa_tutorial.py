"""The anchor for the local engine: LangChain's RAG tutorial pipeline on CoQA CNN dev with the same local model.

Per dialog, the story is split by RecursiveCharacterTextSplitter(1000, 200) into an in-memory Chroma collection
(bge-small, as the project); per turn the model rewrites a follow-up from the history (the tutorial's
"contextualize question" step), the top 4 chunks are retrieved by similarity, and the model answers with the
tutorial's prompt. Reports CoQA F1 (official normalisation) and the time per turn, for first turns and
follow-ups. Run beside `coqa.py --engine local` on the same dialogs.

    python benchmarks/coqa_tutorial.py --dialogs 10 [--model FILE.gguf]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coqa import EVAL, RESULTS, f1  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage  # noqa: E402

from assistant.engines.llamacpp import LlamaCppChat  # noqa: E402
from assistant.engines.local_models import installed  # noqa: E402
from assistant.service import AssistantSettings  # noqa: E402
from store import OnnxEmbeddings, StoreSettings  # noqa: E402

CONTEXTUALIZE = ("Given a chat history and the latest user question which might reference context in the chat history, "
                 "formulate a standalone question which can be understood without the chat history. Do NOT answer "
                 "the question, just reformulate it if needed and otherwise return it as is.")
ANSWER = ("You are an assistant for question-answering tasks. Use the following pieces of retrieved context to "
          "answer the question. If you don't know the answer, say that you don't know. Use three sentences maximum "
          "and keep the answer concise.\n\n{context}")


def main() -> None:
    import chromadb
    from chromadb.config import Settings
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dialogs", type=int, default=10)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    model_path = args.model or next(p for _, p in installed(AssistantSettings(engine="extractive").models))
    chat = LlamaCppChat(model_path=str(model_path), module_cache=StoreSettings().cache, max_tokens=160)
    chat.invoke("Hello")  # load before timing
    embeddings = OnnxEmbeddings()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    dialogs = json.loads(EVAL.read_text())["data"][: args.dialogs]
    rows: dict[str, list[tuple[float, float]]] = {"first": [], "follow-up": []}
    for dialog in dialogs:
        store = Chroma(collection_name=f"t{uuid.uuid4().hex[:8]}", embedding_function=embeddings, client=client)
        store.add_texts(splitter.split_text(dialog["story"]))
        history: list = []
        for i, (q, answer) in enumerate(zip(dialog["questions"], dialog["answers"], strict=True)):
            started = time.perf_counter()
            question = q["input_text"]
            if history:
                question = str(chat.invoke([SystemMessage(CONTEXTUALIZE), *history, HumanMessage(question)]).content)
            context = "\n\n".join(d.page_content for d in store.similarity_search(question, k=4))
            reply = str(chat.invoke([SystemMessage(ANSWER.format(context=context)), *history,
                                     HumanMessage(q["input_text"])]).content)
            seconds = time.perf_counter() - started
            golds = [answer["input_text"]] + [dialog["additional_answers"][k][i]["input_text"]
                                              for k in ("0", "1", "2") if i < len(dialog["additional_answers"][k])]
            rows["first" if i == 0 else "follow-up"].append((max(f1(reply, g) for g in golds), seconds))
            history += [HumanMessage(q["input_text"]), AIMessage(reply)]
        print(f"{dialog['id'][:8]}: {len(dialog['questions'])} turns", flush=True)
    print(f"\n### LangChain tutorial pipeline, {Path(model_path).name}, {len(dialogs)} CoQA CNN dialogs\n")
    print("| turns | n | F1 | p50 ms |\n|---|---|---|---|")
    table = {}
    for kind, items in rows.items():
        table[kind] = {"turns": len(items), "f1": round(100 * statistics.mean(x for x, _ in items), 1),
                       "p50_ms": round(1000 * statistics.median(s for _, s in items))}
        print(f"| {kind} | {len(items)} | {table[kind]['f1']} | {table[kind]['p50_ms']} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"coqa-tutorial-{Path(model_path).stem}.json").write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
