"""A clean sweep's data are those of the first version of the result store.

``tests/golden/v1_sweep.toml`` (the ``classic`` scenario, per-provider columns, replicates
sliced into units) was run with the store as it was before chunks carried their identity in
their Parquet metadata, and the sha256 of every column of its data (values, not Parquet bytes,
which now also hold metadata) stored in ``tests/golden/v1_sweep.json``, together with each
column's Arrow type, the chunk names and their row counts. The same file must give the same
data today: same chunks, same columns in the same order, same types, same values bit for bit.

Regenerate (only for a deliberate change of results) with
``python -m tests.test_golden_sweep``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from sim.experiments import load, load_spec, run_sweep

GOLDEN = Path(__file__).resolve().parent / "golden"
SWEEP = GOLDEN / "v1_sweep.toml"
HASHES = GOLDEN / "v1_sweep.json"


def column_digest(column: pd.Series) -> str:
    """sha256 of a column's values: the raw bytes of a numeric column (so -0.0, NaN payloads
    and the last bit count), the JSON list of an object column."""
    values = column.to_numpy()
    if values.dtype == object:
        payload = json.dumps(values.tolist()).encode()
    else:
        payload = str(values.dtype).encode() + b"\0" + np.ascontiguousarray(values).tobytes()
    return hashlib.sha256(payload).hexdigest()


def describe(directory: Path) -> dict[str, Any]:
    """What the golden file records of a results directory."""
    frame = load(directory)
    chunks = sorted((directory / "chunks").glob("*.parquet"))
    schema = pq.read_schema(chunks[0])
    return {
        "rows": len(frame),
        "chunks": {p.name: pq.read_metadata(p).num_rows for p in chunks},
        "arrow_types": {name: str(schema.field(name).type) for name in schema.names},
        "columns": {str(name): column_digest(frame[name]) for name in frame.columns},
    }


def run_golden(out: Path) -> dict[str, Any]:
    run_sweep(load_spec(SWEEP), out, workers=1, progress=False)
    return describe(out)


def test_clean_sweep_data_are_byte_identical_to_the_first_version(tmp_path: Path) -> None:
    expected = json.loads(HASHES.read_text(encoding="utf-8"))
    got = run_golden(tmp_path / "golden")
    assert got["rows"] == expected["rows"]
    assert got["chunks"] == expected["chunks"]
    assert got["arrow_types"] == expected["arrow_types"]
    assert list(got["columns"]) == list(expected["columns"])  # same columns, same order
    changed = [c for c in expected["columns"] if got["columns"][c] != expected["columns"][c]]
    assert not changed, f"columns whose data changed: {changed}"


if __name__ == "__main__":  # regenerate the golden hashes
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        record = run_golden(Path(tmp) / "golden")
    HASHES.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    sys.stderr.write(f"wrote {HASHES}\n")
