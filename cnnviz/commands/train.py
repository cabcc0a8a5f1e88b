"""`cnnviz train ARCH [--dataset digits] [--out WEIGHTS.safetensors]`: train a stack.

The weights go to ``--out``, by default ``<name>-trained.safetensors`` in the
current folder (from the architecture's name, e.g. lenet-5-trained.safetensors);
the last line says where. Progress goes to stderr, one line per epoch;
``--json`` prints the result on stdout. The same seed gives the same weights.
Ctrl+C stops after the current batch and still saves the best weights so far.
``--update-preset`` records the weights file and the test accuracy in the
architecture file (this is how the bundled presets' weights were made; their
files hold the exact command); without it, the bundled weights are never
replaced.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from cnnviz.commands import CommandError
from cnnviz.commands.summary import load_architecture
from cnnviz.core import safe_json
from cnnviz.core.architecture import Architecture, read_text_file
from cnnviz.core.jobs import INITS, OPTIMIZERS, RECOMMENDED_TRAINING, SCHEDULES, TrainConfig
from cnnviz.core.presets import PRESETS, preset_path

NAME = "train"
HELP = "Train a network on a dataset and save its best weights (safetensors)."
DATASET_NAMES = ("digits", "mnist", "fashion-mnist", "cifar10")
_DEFAULTS = RECOMMENDED_TRAINING  # the Training panel starts from the same values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help=f"architecture file or preset ({', '.join(PRESETS)})")
    parser.add_argument(
        "--dataset",
        default=_DEFAULTS.dataset,
        help=f"{', '.join(DATASET_NAMES)} (digits is bundled; the others are "
        "downloaded once into the user's cache folder)",
    )
    parser.add_argument(
        "--out",
        metavar="WEIGHTS.safetensors",
        help="where to save the weights (default: NAME-trained.safetensors in this folder, "
        "NAME from the architecture's name)",
    )
    parser.add_argument("--epochs", type=int, default=_DEFAULTS.epochs)
    parser.add_argument("--seed", type=int, default=_DEFAULTS.seed)
    parser.add_argument("--lr", type=float, default=_DEFAULTS.learning_rate, help="learning rate")
    parser.add_argument("--batch-size", type=int, default=_DEFAULTS.batch_size)
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=_DEFAULTS.optimizer)
    parser.add_argument("--init", choices=INITS, default=_DEFAULTS.init)
    parser.add_argument(
        "--weight-decay", type=float, default=_DEFAULTS.weight_decay, help="L2, on every weight"
    )
    parser.add_argument(
        "--l1",
        type=float,
        default=_DEFAULTS.l1,
        help="adds L1·Σ|w| over kernels and weight matrices (not biases or BatchNorm) to the loss",
    )
    parser.add_argument(
        "--subset",
        type=int,
        metavar="N",
        help="train on only N images (class-balanced; validation still from all): overfitting",
    )
    parser.add_argument(
        "--patience",
        type=int,
        metavar="P",
        help="early stopping: stop after P epochs without a lower validation loss and keep "
        "the lowest-loss epoch's weights",
    )
    parser.add_argument(
        "--val-split",
        type=float,
        default=_DEFAULTS.validation_split,
        help="share of the training images kept for validation (default %(default)s)",
    )
    parser.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=_DEFAULTS.schedule,
        help="learning rate over the run (cosine: decays to 0; default %(default)s)",
    )
    parser.add_argument(
        "--no-augment", action="store_true", help="train on the images exactly as they are"
    )
    parser.add_argument("--weights", metavar="FILE", help="start from these weights")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: small networks gain nothing from more, "
        "and on a busy machine extra threads slow training down many times)",
    )
    parser.add_argument(
        "--ignore-memory-limit",
        action="store_true",
        help="train even when the network needs more memory than cnnviz allows itself",
    )
    parser.add_argument(
        "--update-preset",
        action="store_true",
        help="write the weights file name and the metrics into the architecture file",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the result as strict JSON on stdout (a number that is not finite is null)",
    )


def _config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        dataset=args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        optimizer=args.optimizer,
        init=args.init,
        weight_decay=args.weight_decay,
        validation_split=args.val_split,
        seed=args.seed,
        schedule=args.schedule,
        augment=not args.no_augment,
        train_subset=args.subset,
        patience=args.patience,
        l1=args.l1,
    )


def rerun_command(args: argparse.Namespace) -> str:
    """The command line that makes the same weights again (every setting spelled out)."""
    parts = [
        f"cnnviz train {args.arch} --dataset {args.dataset} --epochs {args.epochs}",
        f"--seed {args.seed} --lr {args.lr:g} --batch-size {args.batch_size}",
        f"--optimizer {args.optimizer} --init {args.init} --weight-decay {args.weight_decay:g}",
        f"--val-split {args.val_split:g} --schedule {args.schedule}",
    ]
    if args.no_augment:
        parts.append("--no-augment")
    if args.l1:
        parts.append(f"--l1 {args.l1:g}")
    if args.subset is not None:
        parts.append(f"--subset {args.subset}")
    if args.patience is not None:
        parts.append(f"--patience {args.patience}")
    parts.append(f"--out {Path(args.out).name}")
    return " ".join(parts)


def _architecture_file(arch_arg: str) -> Path:
    path = Path(arch_arg)
    if path.suffix or path.exists():
        return path
    return preset_path(arch_arg)


def default_out(arch: Architecture) -> Path:
    """`<name>-trained.safetensors` here: never a preset's own weights file."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", arch.name.lower()).strip("-.") or "network"
    return Path(f"{slug}-trained.safetensors")


def _is_bundled(path: Path) -> bool:
    from cnnviz.core.resources import resource_path

    return path.exists() and path.resolve().parent == resource_path("presets").resolve()


def _check_out(out: str, update_preset: bool) -> Path:
    path = Path(out)
    # The bundled weights are what every user's window shows; replacing them
    # is retraining a preset, which --update-preset says on purpose.
    if _is_bundled(path) and not update_preset:
        raise CommandError(
            f"--out {out} would replace weights bundled with cnnviz; choose another file, "
            "or add --update-preset to retrain the preset"
        )
    if not path.parent.is_dir():
        raise CommandError(f"--out: folder {path.parent} does not exist")
    if path.is_dir():
        raise CommandError(f"--out: {path} is a folder; give a file name")
    return path


class _Printer:
    """Human-readable progress lines on stderr."""

    def __init__(self) -> None:
        self.last_download = 0.0

    def epoch(self, progress) -> None:
        if progress.val_accuracy is None:
            return
        print(
            f"epoch {progress.epoch}/{progress.epochs}  loss {progress.train_loss:.4f}  "
            f"accuracy {progress.train_accuracy:.1%}  validation loss {progress.val_loss:.4f}  "
            f"accuracy {progress.val_accuracy:.1%}",
            file=sys.stderr,
            flush=True,
        )

    def download(self, name: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if now - self.last_download < 1.0 and not finished:
            return
        self.last_download = now
        size = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        print(f"downloading {name}: {size}", file=sys.stderr, flush=True)


def _prepare_data(dataset: str, printer: _Printer) -> None:
    """Fetch a download-only dataset first, with progress lines, so training finds it."""
    from cnnviz.compute.datasets import DatasetError, load_dataset
    from cnnviz.compute.downloads import DownloadError

    try:
        load_dataset(dataset, download=True, progress=printer.download)
    except (DatasetError, DownloadError) as exc:
        raise CommandError(str(exc)) from None


def _train(arch: Architecture, args: argparse.Namespace, printer: _Printer):
    import torch

    from cnnviz.compute.train import train
    from cnnviz.compute.weights import WeightsError, read_weights

    try:
        initial = read_weights(args.weights) if args.weights else None
    except WeightsError as exc:
        raise CommandError(str(exc)) from None
    interrupted = []
    previous_handler = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, args.threads))
    try:
        return train(
            arch,
            _config(args),
            initial_state=initial,
            on_progress=printer.epoch,
            should_stop=lambda: bool(interrupted),
        )
    except ValueError as exc:  # TrainingError, WeightsError, DatasetError: the user's
        raise CommandError(str(exc)) from None
    except (MemoryError, RuntimeError) as exc:
        from cnnviz.compute.memory_check import failure_message, is_allocation_failure

        if not is_allocation_failure(exc):
            raise
        raise CommandError(failure_message(exc, "training")) from None
    finally:
        torch.set_num_threads(previous_threads)
        signal.signal(signal.SIGINT, previous_handler)


def execute(args: argparse.Namespace) -> int:
    arch = load_architecture(args.arch)
    args.out = args.out or str(default_out(arch))
    out = _check_out(args.out, args.update_preset)
    replaced = out.exists()
    from cnnviz.compute.datasets import DatasetError, check_trainable, dataset_info

    try:
        problem = check_trainable(arch, dataset_info(args.dataset))
    except DatasetError as exc:
        raise CommandError(str(exc)) from None
    if problem:
        raise CommandError(problem)
    _check_memory(arch, args)
    printer = _Printer()
    _prepare_data(args.dataset, printer)
    result = _train(arch, args, printer)
    _save(result, out, args)
    if args.update_preset:
        update_architecture_file(_architecture_file(args.arch), out, _metrics(result, args))
    _report(result, out, args, replaced)
    return 0


def _check_memory(arch: Architecture, args: argparse.Namespace) -> None:
    """Refuse before anything is built when training would not fit (a rough estimate:
    weights, gradients, optimizer state and a batch's activations)."""
    if args.ignore_memory_limit:
        return
    from cnnviz.core.analysis import analyze
    from cnnviz.core.memory import estimate, memory_budget, refusal, training_estimate

    memory = estimate(analyze(arch), train_mode=True)
    needed = training_estimate(memory, args.batch_size, args.optimizer)
    budget = memory_budget()
    if not budget.allows(needed):
        line = refusal(memory, budget, needed, "training")
        raise CommandError(f"{line}; --ignore-memory-limit trains it anyway")


def _metrics(result, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "test_accuracy": None if result.test_accuracy is None else round(result.test_accuracy, 4),
        "best_val_accuracy": round(result.best_val_accuracy, 4),
        "dataset": dataset_key(args.dataset),
        "epochs": result.epochs_run,
        "seed": args.seed,
        "command": rerun_command(args),
    }


def dataset_key(name: str) -> str:
    from cnnviz.compute.datasets import dataset_info

    return dataset_info(name).key


def _save(result, out: Path, args: argparse.Namespace) -> None:
    from cnnviz.compute.weights import save_weights

    metadata = {k: str(v) for k, v in _metrics(result, args).items()}
    try:
        save_weights(result.state_dict, out, metadata)
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from None


def update_architecture_file(path: Path, weights: Path, metrics: dict[str, Any]) -> None:
    """Set "weights" (relative to the file's folder when possible) and "metrics"; keep the rest."""
    try:
        data = safe_json.parse(read_text_file(path, "architecture", ValueError))
    except ValueError as exc:
        raise CommandError(f"cannot update {path}: {exc}") from None
    try:
        data["weights"] = str(weights.resolve().relative_to(path.resolve().parent))
    except ValueError:
        data["weights"] = str(weights.resolve())
    data["metrics"] = metrics
    tmp = path.with_name(path.name + ".tmp")
    text = safe_json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _report(result, out: Path, args: argparse.Namespace, replaced: bool) -> None:
    test = "not measured" if result.test_accuracy is None else f"{result.test_accuracy:.2%}"
    stopped = " (stopped early)" if result.cancelled else ""
    print(
        f"test accuracy {test}, best validation accuracy {result.best_val_accuracy:.2%}, "
        f"{result.epochs_run} epochs in {result.seconds:.1f} s{stopped}",
        file=sys.stderr,
    )
    again = " (replacing the file that was there)" if replaced else ""
    if result.stopped_epoch is not None:
        print(
            f"early stopping ended the run after epoch {result.stopped_epoch}; "
            f"kept the weights of epoch {result.best_epoch}",
            file=sys.stderr,
        )
    if result.test_metrics is not None:
        print(result.test_metrics.table(), file=sys.stderr)
    print(f"saved the weights to {out}{again}", file=sys.stderr)
    if args.json:
        record = {
            "test_accuracy": result.test_accuracy,
            "best_val_accuracy": result.best_val_accuracy,
            "epochs": result.epochs_run,
            "seconds": round(result.seconds, 3),
            "out": str(out),
            "cancelled": result.cancelled,
            "dataset": dataset_key(args.dataset),
            "seed": args.seed,
            "best_epoch": result.best_epoch,
            "stopped_epoch": result.stopped_epoch,
            "confusion": None,
            "per_class": None,
        }
        if result.test_metrics is not None:
            record.update(result.test_metrics.as_json())
        print(safe_json.dumps(record, indent=2))
