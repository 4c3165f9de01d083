"""Save and load a forest's fitted state without unpickling: skops files checked against an allow-list.

A joblib file is a pickle, and opening a pickle runs whatever code it names, so a forest run handed
over by a user or downloaded from elsewhere could take over the machine that loads it. The project
standard is that nothing a user hands us is unpickled: forests are written with ``skops.io`` (a zip of
a JSON schema plus ``.npy`` arrays, made for safe scikit-learn persistence) and read back only after
every type the schema names has been found in :data:`ALLOWED_TYPES`, the types an xrdnet forest
holds. Anything else (a function, another estimator, a pickled object) is refused with one line
naming the file and the types, before any object is built.

Old joblib runs (``forest.joblib``) are refused as well (:func:`legacy_refusal`);
``forest_legacy.convert_joblib_run`` re-saves one the user explicitly trusts (``xrdnet convert-forest
RUN --trust``), the one place a pickle is still opened.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

ALLOWED_TYPES = frozenset({
    # containers and scalars of the state dict, the config and the provenance
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.str", "builtins.int", "builtins.float",
    "builtins.bool", "builtins.NoneType",
    # arrays (grid, classes_, tree node arrays) and their dtypes / scalars
    "numpy.ndarray", "numpy.int64", "numpy.float64",
    # the two forest kinds of ForestConfig.kind, their trees and the trees' node storage
    "sklearn.ensemble._forest.ExtraTreesClassifier", "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.tree._classes.ExtraTreeClassifier", "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
})
"""``module.class`` of every type a saved xrdnet forest may hold (see the module docstring)."""
ALLOWED_LOADERS = frozenset({"DictNode", "ListNode", "TupleNode", "JsonNode", "TypeNode", "NdArrayNode",
                             "ObjectNode", "TreeNode"})
"""skops node kinds those types are written as; a function, method or reduce node is refused whatever it names."""


class UnsafeForestFile(ValueError):
    """A forest file this xrdnet will not open (untrusted types, a pickle, or not a skops file); one line."""


def _types_in(node, found: set[str]) -> None:
    """Collect ``module.class`` of every node of a skops schema into ``found``."""
    if isinstance(node, dict):
        if "__class__" in node:
            found.add(f"{node.get('__module__')}.{node['__class__']}")
            if node.get("__loader__") not in ALLOWED_LOADERS:
                found.add(f"{node.get('__loader__')} node")
        for value in node.values():
            _types_in(value, found)
    elif isinstance(node, list):
        for value in node:
            _types_in(value, found)


def schema_types(path: str | Path) -> set[str]:
    """``module.class`` of every object skops file ``path`` would build, plus ``"<Kind>Node node"`` for a
    node kind outside :data:`ALLOWED_LOADERS` (UnsafeForestFile when it is not a skops file)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (OSError, zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnsafeForestFile(f"{path}: not a forest file xrdnet writes (a skops zip with schema.json): "
                               f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from exc
    found: set[str] = set()
    _types_in(schema, found)
    return found


def dump_state(state: dict, path: str | Path) -> Path:
    """Write ``state`` (plain values, numpy arrays, scikit-learn forests) to skops file ``path``.

    Refuses (before writing) a state holding a type :func:`load_state` would refuse, so a saved forest
    always loads back.
    """
    import skops.io as sio

    path = Path(path)
    data = sio.dumps(state, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    extra = sorted(schema_types(tmp) - ALLOWED_TYPES)
    if extra:
        tmp.unlink()
        raise ValueError(f"{path}: not written: the forest state holds type(s) {', '.join(extra)} that "
                         "xrdnet.models.forest_store.ALLOWED_TYPES does not allow")
    tmp.replace(path)
    return path


def load_state(path: str | Path) -> object:
    """The object stored in skops file ``path``, built only if every type in it is in :data:`ALLOWED_TYPES`."""
    import skops.io as sio

    path = Path(path)
    found = schema_types(path)
    refused = sorted(found - ALLOWED_TYPES)  # "... node" entries are never in it
    if refused:
        raise UnsafeForestFile(f"{path}: refused to load: it holds type(s) {', '.join(refused)}, which no "
                               "xrdnet forest holds (only the allow-list in xrdnet.models.forest_store is loaded)")
    try:
        return sio.load(path, trusted=sorted(found))
    except Exception as exc:  # noqa: BLE001 - a damaged archive fails in many ways; one line naming the file
        raise UnsafeForestFile(f"{path}: unreadable forest file ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:200]})") from exc


def legacy_refusal(path: str | Path, folder: str | Path) -> UnsafeForestFile:
    """The one-line error for an old joblib forest ``path`` (in run ``folder``): how to re-save it."""
    return UnsafeForestFile(f"{path}: an old joblib (pickle) forest; xrdnet no longer unpickles files, which can "
                            f"run code. If you trust it, re-save it once with: xrdnet convert-forest {folder} --trust")
