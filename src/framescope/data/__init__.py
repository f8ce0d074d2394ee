"""Training records: typed rows of DynFrame's and VideoMind's data files, read with the file and
line of every row.

- DynFrame: :class:`DMCoTRecord` (SFT, assistant text split at its retrievals) and
  :class:`DMRLRecord` (RL: answer, evidence span and density) — :mod:`framescope.data.dynframe`.
- VideoMind: :class:`GrounderRecord`, :class:`VerifierRecord` (built from a grounder's own top-5
  predictions by :func:`verifier_records`), :class:`PlannerRecord` (the four training routes) —
  :mod:`framescope.data.videomind`.

Every reader raises :class:`~framescope.errors.RecordError` (``path:line: reason``) on a bad row,
or with ``skip_bad_rows=True`` skips it and lists it in the result's ``skipped`` (``report()``
prints them). Relative video paths resolve against ``data_root`` or ``$FRAMESCOPE_DATA``.
"""

from framescope.data.dynframe import (
    CoTSegment,
    DMCoTRecord,
    DMRLRecord,
    iter_dm_cot,
    iter_dm_rl,
    read_dm_cot,
    read_dm_rl,
    split_response,
)
from framescope.data.rows import DATA_ENV, BadRow, Loaded, data_root
from framescope.data.videomind import (
    GrounderRecord,
    PlannerRecord,
    VerifierRecord,
    iter_verifier,
    read_grounder,
    read_planner,
    read_verifier,
    verifier_records,
)

__all__ = [
    "DATA_ENV",
    "BadRow",
    "CoTSegment",
    "DMCoTRecord",
    "DMRLRecord",
    "GrounderRecord",
    "Loaded",
    "PlannerRecord",
    "VerifierRecord",
    "data_root",
    "iter_dm_cot",
    "iter_dm_rl",
    "iter_verifier",
    "read_dm_cot",
    "read_dm_rl",
    "read_grounder",
    "read_planner",
    "read_verifier",
    "split_response",
    "verifier_records",
]
