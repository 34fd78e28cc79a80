"""Progress of a sweep: runs done, total and ETA.

On a terminal a ``tqdm`` bar; otherwise (CI logs, pipes) one plain line at most every
``interval`` seconds and a last line at the end, so logs stay short and readable.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(round(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Progress:
    """Count finished runs of ``total``; ``done`` were finished before this invocation (resume)
    and do not count towards the rate behind the ETA."""

    def __init__(
        self,
        label: str,
        total: int,
        done: int = 0,
        *,
        stream: TextIO | None = None,
        interval: float = 10.0,
        enabled: bool = True,
    ) -> None:
        self.label = label
        self.total = total
        self.done = done
        self.initial = done
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.enabled = enabled
        self.start = time.monotonic()
        self._last_line = self.start
        self._bar = None
        if enabled and self.stream.isatty():
            from tqdm import tqdm

            # a pseudo-terminal reporting a zero size would make tqdm hide the bar
            size = shutil.get_terminal_size((100, 20))
            self._bar = tqdm(
                total=total,
                initial=done,
                desc=label,
                unit="run",
                file=self.stream,
                leave=True,
                ncols=size.columns,
                nrows=size.lines,
            )
        elif enabled:
            self._line(force=True)

    def eta(self) -> float | None:
        """Seconds left at the rate of this invocation, ``None`` before the first run."""
        new = self.done - self.initial
        if new <= 0:
            return None
        rate = new / max(time.monotonic() - self.start, 1e-9)
        return (self.total - self.done) / rate

    def update(self, runs: int) -> None:
        self.done += runs
        if self._bar is not None:
            self._bar.update(runs)
        elif self.enabled:
            self._line()

    def _line(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_line < self.interval and self.done < self.total:
            return
        self._last_line = now
        eta = self.eta()
        pct = 100.0 * self.done / self.total if self.total else 100.0
        self.stream.write(
            f"{self.label}: {self.done}/{self.total} runs ({pct:.0f}%), "
            f"elapsed {_clock(now - self.start)}, "
            f"eta {_clock(eta) if eta is not None else '?'}\n"
        )
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
