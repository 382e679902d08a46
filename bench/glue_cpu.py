"""Benchmark: fine-tune one model on the small Leaner-GLUE tasks of ../shared/tinyhelen-data on CPU (rte, mrpc,
cola, stsb, wnli) with our loop, and with the original's recipe (transformers.Trainer, `*ForSequenceClassification`,
every example padded to max_length); print the time of each, their ratio and the validation scores.

    python bench/glue_cpu.py [--glue ../shared/tinyhelen-data/leaner/glue] [--model models/llama-leaner]
                             [--steps 4] [--batch-size 16] [--max-length 256] [--max-eval 48] [--threads 1]

Without `--model` (or when it does not exist) a stand-in is built: the paper's 1M Llama proxy (hidden 128,
4 layers; spec §4) with random weights and a 2,000-entry byte-level BPE trained on the tasks' train text.
Both sides run the same steps, batch, learning rate and evaluation examples; only the method differs.
Ours: dynamic padding, length-sorted evaluation batches, one tokenisation per task, a separator between
pairs. GPU timing: run with `--model ...` on a CUDA machine after setting `glue.device: cuda` (not run here).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TINYHELEN_TRACKING", "off")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from tinyhelen.core.config import with_changes  # noqa: E402
from tinyhelen.core.release import GLUE_FIELDS  # noqa: E402
from tinyhelen.glue.data import load_task  # noqa: E402
from tinyhelen.glue.finetune import glue_model  # noqa: E402
from tinyhelen.glue.metrics import compute_metrics  # noqa: E402
from tinyhelen.params import load_params  # noqa: E402

TASKS = ["rte", "mrpc", "cola", "stsb", "wnli"]


def build_stand_in(glue_dir: Path, out: Path) -> Path:
    """A random 1M Llama proxy and a byte-level BPE (vocab 2,000) trained on the tasks' train text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = [
        r[f]
        for task in TASKS
        if not isinstance(d := load_task(glue_dir, task), str)
        for r in d.train
        for f in GLUE_FIELDS[task]
    ]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=2000,
            special_tokens=["<|endoftext|>", "<pad>"],
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)  # no pair template, like gpt-2K (spec §3)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|endoftext|>", bos_token="<|endoftext|>", pad_token="<pad>"
    )
    torch.manual_seed(0)
    LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=128,
            intermediate_size=512,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=1024,
            rope_theta=500000.0,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=0,
            eos_token_id=0,
            tie_word_embeddings=False,
        )
    ).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def run_trainer_baseline(model_dir: Path, glue_dir: Path, cfg, out: Path) -> dict[str, float]:
    """The original's recipe (spec §6.1): AutoModelForSequenceClassification, padding to max_length, Trainer."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    scores = {}
    for task in TASKS:
        data = load_task(glue_dir, task, cfg.max_train_examples, cfg.max_eval_examples)
        if isinstance(data, str):
            continue

        def encode(records, task=task):
            texts = [[r[f] for r in records] for f in GLUE_FIELDS[task]]
            enc = tokenizer(*texts, padding="max_length", truncation=True, max_length=cfg.max_length)
            return Dataset.from_dict({**enc, "labels": [r["label"] for r in records]})

        model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=data.num_labels)
        model.config.pad_token_id = tokenizer.pad_token_id
        args = TrainingArguments(
            output_dir=str(out / task),
            per_device_train_batch_size=cfg.batch_size,
            per_device_eval_batch_size=cfg.eval_batch_size,
            learning_rate=cfg.learning_rates[0],
            max_steps=cfg.max_steps,
            lr_scheduler_type="linear",
            save_strategy="no",
            eval_strategy="no",
            report_to=[],
            seed=cfg.seeds[0],
            disable_tqdm=True,
            use_cpu=True,
            logging_strategy="no",
        )
        trainer = Trainer(model=model, args=args, train_dataset=encode(data.train))
        trainer.train()
        column = next(iter(data.columns))
        for kind in ("validation", "test"):
            records = data.columns[column][kind]
            logits = trainer.predict(encode(records)).predictions
            predictions = logits[:, 0] if data.num_labels == 1 else np.argmax(logits, axis=-1)
            if kind == "validation":
                scores[task] = compute_metrics(task, predictions, [r["label"] for r in records])["score"]
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--glue", default="../shared/tinyhelen-data/leaner/glue")
    parser.add_argument("--model", default="models/llama-leaner")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--max-eval", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: all cores; 1 spares shared cores)")
    args = parser.parse_args()
    glue_dir = Path(args.glue)
    if not glue_dir.is_dir():
        raise SystemExit(f"{glue_dir}: not found (pass --glue)")
    if args.threads:
        torch.set_num_threads(args.threads)

    cfg = with_changes(
        load_params("params.yaml").glue,
        tasks=TASKS,
        max_steps=args.steps,
        batch_size=args.batch_size,
        max_length=args.max_length,
        max_eval_examples=args.max_eval,
        learning_rates=[1e-3],
        seeds=[1],
        cpu_threads=args.threads,
        device="cpu",
        precision="fp32",
    )
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(args.model)
        if not (model_dir / "config.json").exists():
            model_dir = build_stand_in(glue_dir, Path(tmp) / "model")
            print(f"no {args.model}: using a random 1M Llama stand-in")
        start = time.perf_counter()
        ours = glue_model("bench", model_dir, False, glue_dir, cfg).metrics
        ours_s = time.perf_counter() - start
        start = time.perf_counter()
        baseline = run_trainer_baseline(model_dir, glue_dir, cfg, Path(tmp) / "trainer")
        baseline_s = time.perf_counter() - start
    print(
        f"tasks {TASKS}: {args.steps} steps x batch {args.batch_size}, max length {args.max_length}, "
        f"{args.max_eval} eval examples per file; torch threads {torch.get_num_threads()}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for task in TASKS:
        row = ours["tasks"].get(task, {})
        if row.get("status") != "done":
            print(f"  {task}: skipped ({row.get('reason')})")
            continue
        print(
            f"  {task}: validation score ours {ours['scores'][task]['validation']['score']['mean']:.3f}, "
            f"Trainer recipe {baseline.get(task, float('nan')):.3f}"
        )
    print(
        f"ours (dynamic padding, val + test scored): {ours_s:.1f} s; Trainer recipe (max_length padding): "
        f"{baseline_s:.1f} s; speed-up {baseline_s / ours_s:.2f}x"
    )


if __name__ == "__main__":
    main()
