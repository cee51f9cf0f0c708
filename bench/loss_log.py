"""The losses of a run as it trains: `<run>/losses.csv`, and TensorBoard event files on request.

The trainer hands every logged step (every `log_every` updates) to a `LossLog`. The CSV gains one
row per logged step and is flushed at once, so it can be read (`pandas.read_csv`, a spreadsheet,
`tail -f`) while the run goes on. On resume it is first rewritten from the checkpoint's loss
history, atomically, so rows logged after the last checkpoint by the interrupted process (and
redone now) appear once. Columns: `step`, then the model's loss keys in the order it logs them;
a key that appears later rewrites the file with the new column.

`tensorboard_dir`: also write the same scalars as TensorBoard events there (`loss/<key>`), which
needs the optional `tensorboard` package (`pip install -e ".[tensorboard]"`; `bench run
--tensorboard` checks for it before anything runs).
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from typing import Optional

from bench.atomic import atomic_path
from bench.errors import BenchError

TENSORBOARD_EXTRA = 'pip install -e ".[tensorboard]"'


def check_tensorboard() -> None:
    """BenchError naming the extra to install when TensorBoard cannot be written here."""
    if importlib.util.find_spec("tensorboard") is None:
        raise BenchError(
            f"--tensorboard needs the tensorboard package, which is not installed. Install the optional extra ({TENSORBOARD_EXTRA}, "
            "or pip install tensorboard), or leave --tensorboard out: every run writes its losses to <run>/losses.csv anyway."
        )


class LossLog:
    def __init__(self, csv_path, tensorboard_dir: Optional[Path] = None):
        self.csv_path = Path(csv_path)
        self.tensorboard_dir = Path(tensorboard_dir) if tensorboard_dir is not None else None
        self._rows: list = []  # (step, {key: value})
        self._columns: list = []
        self._writer = None

    def start(self, history: list) -> None:
        """Begin (or resume from) `history`: [{"step", "losses"}], as the checkpoint keeps it."""
        self._rows = [(int(h["step"]), dict(h["losses"])) for h in history]
        self._columns = []
        for _, values in self._rows:
            self._columns += [k for k in values if k not in self._columns]
        self._rewrite()
        if self.tensorboard_dir is not None:
            check_tensorboard()
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.tensorboard_dir), purge_step=self._rows[-1][0] + 1 if self._rows else None)

    def log(self, step: int, values: dict) -> None:
        self._rows.append((int(step), dict(values)))
        if any(k not in self._columns for k in values):
            self._columns += [k for k in values if k not in self._columns]
            self._rewrite()
        else:
            with open(self.csv_path, "a", newline="") as fh:
                csv.writer(fh).writerow(self._cells(step, values))
                fh.flush()
        if self._writer is not None:
            for key, value in values.items():
                self._writer.add_scalar(f"loss/{key}", value, step)
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _cells(self, step: int, values: dict) -> list:
        return [step] + [f"{values[k]:.6g}" if k in values else "" for k in self._columns]

    def _rewrite(self) -> None:
        with atomic_path(self.csv_path, suffix=".csv") as tmp:
            with open(tmp, "w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["step", *self._columns])
                writer.writerows(self._cells(step, values) for step, values in self._rows)
