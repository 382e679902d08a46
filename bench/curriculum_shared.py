"""Benchmark: every curriculum arm on the shared leaner 10M text at the 1M proxy size, on CPU, in one process.

    python bench/curriculum_shared.py [--data ../shared/tinyhelen-data] [--out runs/curriculum-shared]
        [--documents 300] [--max-chars 2000] [--steps 80] [--seeds 65] [--batch 8] [--block 128]

What it does (everything under --out, git-ignored):
1. composes a pool from `<data>/leaner/10M/{train,validation}/<genre>*.jsonl` (the natural-language genres),
   `--documents` random training documents of at most `--max-chars` characters (seeded), the validation
   documents likewise; ids are the release's text hashes. No cleaning pass (the release text is used as is).
2. trains a 2K byte-level BPE (the project's `train_bpe`) on all natural-language training text of the folder;
3. trains the reference LM for iter-lmloss: a `full-random` arm with a seed that no measured arm uses
   (`--reference-seed`), same size and steps, exported at its last step;
4. runs the stages `difficulty`, `curriculum` (every strategy x seed) and `curriculum_summary` through their
   CLIs with a params file written from params.yaml plus these settings, and prints the table.
The paper's setting (100M tokens, 2,500 steps of 512 x 1024) needs a GPU; this run is a small CPU proxy of it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import time
from pathlib import Path

os.environ.setdefault("TINYHELEN_TRACKING", "off")

import yaml

from tinyhelen.core.config import with_changes  # noqa: E402
from tinyhelen.curriculum.config import STRATEGIES
from tinyhelen.params import load_params  # noqa: E402

GENRES = ("book", "conversation", "textbook", "wiki")


def read_split(data: Path, split: str, max_chars: int) -> list[dict]:
    records = []
    for genre in GENRES:
        for path in sorted((data / "leaner" / "10M" / split).glob(f"{genre}*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                text = record.get("text")
                if isinstance(text, str) and 0 < len(text) <= max_chars:
                    doc_id = record.get("hash") or hashlib.sha256(text.encode()).hexdigest()
                    records.append({"id": doc_id, "genre": genre, "text": text})
    return records


def compose(data: Path, out: Path, documents: int, val_documents: int, max_chars: int, seed: int) -> dict:
    sizes = {}
    for split, count in (("train", documents), ("validation", val_documents)):
        records = read_split(data, split, max_chars)
        random.Random(f"{seed}:{split}").shuffle(records)
        records = list({r["id"]: r for r in records}.values())[:count]
        path = out / "composed" / "leaner" / f"{split}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        sizes[split] = {"documents": len(records), "chars": sum(len(r["text"]) for r in records)}
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/tinyhelen-data")
    parser.add_argument("--out", default="runs/curriculum-shared")
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--val-documents", type=int, default=60)
    parser.add_argument("--max-chars", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--eval-batches", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[65])
    parser.add_argument("--reference-seed", type=int, default=99)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    args = parser.parse_args()

    from stages import curriculum, curriculum_summary, difficulty
    from tinyhelen.tokens.tokenizer import train_bpe

    out = Path(args.out)
    if not (Path(args.data) / "leaner" / "10M").is_dir():
        raise SystemExit(f"{args.data}: no leaner/10M folder (pass --data)")
    started = time.perf_counter()
    sizes = compose(Path(args.data), out, args.documents, args.val_documents, args.max_chars, seed=65)
    texts = [r["text"] for r in read_split(Path(args.data), "train", 10**9)]  # the whole natural-language train
    train_bpe(texts, "causal", vocab_size=2000, min_frequency=2, model_max_length=1024).save_pretrained(
        out / "tokenizers" / "causal"
    )
    print(f"pool {sizes}; tokenizer trained ({time.perf_counter() - started:.0f}s)", flush=True)

    params = load_params("params.yaml")
    model = with_changes(
        params.curriculum.model,
        hidden_size=128,
        intermediate_size=512,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
    )
    cur = with_changes(
        params.curriculum,
        model=model.model_dump(),
        max_steps=args.steps,
        batch_size=args.batch,
        micro_batch_size=args.batch,
        block_size=args.block,
        warmup_steps=max(1, args.steps // 25),
        eval_every=args.eval_every,
        eval_batches=args.eval_batches,
        eval_batch_size=16,
        log_every=args.eval_every,
        save_every=0,
        run_dir=str(out / "checkpoints"),
        export_steps=[args.steps],
        seeds=args.seeds,
        strategies=args.strategies,
        score_batch_size=16,
    )
    reference = out / "reference" / f"full-random-s{args.reference_seed}" / f"step-{args.steps}"
    diff = with_changes(params.difficulty, reference_model=str(reference), block_size=args.block, batch_size=16)
    params_path = out / "params.yaml"
    params_path.write_text(
        yaml.safe_dump(params.model_copy(update={"curriculum": cur, "difficulty": diff}).model_dump(mode="json"))
    )
    common = ["--params", str(params_path)]
    paths = [
        "--composed",
        str(out / "composed"),
        "--tokenizers",
        str(out / "tokenizers"),
        "--difficulty",
        str(out / "difficulty"),
        "--runs",
        str(out / "arms"),
        "--metrics",
        str(out / "metrics" / "arms"),
    ]
    timings = {}

    def timed(name, call):
        begin = time.perf_counter()
        call()
        timings[name] = round(time.perf_counter() - begin, 1)
        print(f"{name}: {timings[name]}s", flush=True)

    if "iter-lmloss" in args.strategies:
        timed(
            "reference",
            lambda: curriculum.main(
                [
                    "--strategy",
                    "full-random",
                    "--seed",
                    str(args.reference_seed),
                    *paths,
                    "--runs",
                    str(out / "reference-arm"),
                    "--models",
                    str(out / "reference"),
                    *common,
                ]
            ),
        )
        timed(
            "difficulty",
            lambda: difficulty.main(
                [
                    "--composed",
                    str(out / "composed"),
                    "--out",
                    str(out / "difficulty"),
                    "--plots",
                    str(out / "plots"),
                    "--metrics",
                    str(out / "metrics" / "difficulty"),
                    *common,
                ]
            ),
        )
    for seed in args.seeds:
        for strategy in args.strategies:
            timed(
                f"{strategy}-s{seed}",
                lambda s=strategy, n=seed: curriculum.main(
                    ["--strategy", s, "--seed", str(n), *paths, "--models", str(out / "models"), *common]
                ),
            )
    curriculum_summary.main(
        [
            "--runs",
            str(out / "arms"),
            "--difficulty",
            str(out / "difficulty"),
            "--out",
            str(out / "summary"),
            "--summary",
            str(out / "metrics" / "curriculum.json"),
            *common,
        ]
    )
    print(json.dumps({"timings_s": timings, "total_s": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
