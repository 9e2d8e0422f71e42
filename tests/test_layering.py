"""The house rules of DESIGN.md, checked by scanning imports, so the layering cannot silently erode.

- One home per dependency: mlflow only in tasks/tracking/, pyarrow only in tasks/storage.py,
  prefect only in flows/, benchmarks/, steps.py files and a domain's steps/ package.
- The generic floor (tasks/*.py, tasks/tracking/) and the shared network package (tasks/nets/)
  import no domain package.
- No domain imports another domain: what two stories share lives on the floor or in tasks/nets/.
- Pure domain modules import neither prefect, mlflow, storage nor paths; steps.py is where they meet.
- The product (flows/, tasks/) never imports benchmarks/, which is not packaged with it; only the
  commands of ``seqflow bench`` do, when they run (flows/cli/bench.py, inside its functions).
- No module reaches into another project module's private (``_name``) names.
"""

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ("tasks.forecasting", "tasks.embeddings", "tasks.lesson", "tasks.operations", "tasks.study")

# module prefix -> the files allowed to import it (relative to the project root)
HOMES = {
    "mlflow": lambda rel: rel.startswith("tasks/tracking/"),
    "prefect": lambda rel: rel.startswith(("flows/", "benchmarks/")) or _is_steps(rel),
    "pyarrow": lambda rel: rel == "tasks/storage.py",
}
BANNED_NAMES = {"utils.py", "helpers.py", "io.py", "logging.py"}
PURE_FORBIDDEN = ("prefect", "mlflow", "tasks.storage", "tasks.paths", "tasks.tracking", "tasks.caching")
PROJECT_PACKAGES = ("flows", "tasks", "benchmarks")
PRODUCT = ("flows/", "tasks/")
BENCH_DOOR = "flows/cli/bench.py"  # the one product module that may import benchmarks, and only lazily


@functools.lru_cache(maxsize=None)
def _parsed(source: str) -> ast.Module:
    """One parse per source for every rule and test (the tree is scanned once per parametrised case)."""
    return ast.parse(source)


def imports_of(source: str) -> set[str]:
    """Every absolute module a source file imports, fully dotted (``from a import b`` gives ``a`` and ``a.b``)."""
    found = set()
    for node in ast.walk(_parsed(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imports_at_import_time(source: str) -> set[str]:
    """The modules :func:`imports_of` finds outside function bodies: what importing the file imports."""
    tree = ast.parse(source)  # a fresh tree: the transformer below cuts the functions out of it

    class Outside(ast.NodeTransformer):
        def visit_FunctionDef(self, node):
            return None

        visit_AsyncFunctionDef = visit_FunctionDef

    return imports_of(ast.unparse(Outside().visit(tree)))


def private_reaches(source: str) -> set[str]:
    """Every private name of a project module the source uses: ``from m import _x`` or ``m._x``."""
    found = set()
    bound: dict[str, str] = {}  # local name -> the project module it was imported as
    tree = _parsed(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in PROJECT_PACKAGES:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.add(f"{node.module}.{alias.name}")
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT_PACKAGES:
                    bound[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.add(f"{bound[node.value.id]}.{node.attr}")
    return found


def _sources():
    for folder in ("tasks", "flows", "benchmarks"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def _is_generic(rel: str) -> bool:
    parts = rel.split("/")
    return (len(parts) == 2 and parts[0] == "tasks") or rel.startswith(("tasks/tracking/", "tasks/nets/"))


def _domain_of(rel: str) -> str | None:
    return next((d for d in DOMAINS if rel.startswith(d.replace(".", "/") + "/")), None)


def _is_steps(rel: str) -> bool:
    """A domain's meeting place of Prefect, storage and tracking: its steps.py, or a steps/ package."""
    return rel.endswith("/steps.py") or "/steps/" in rel


def _is_pure_domain(rel: str) -> bool:
    return any(rel.startswith(d.replace(".", "/") + "/") for d in DOMAINS) and not _is_steps(rel)


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layering_offences(files: dict[str, str]) -> list[str]:
    """Every broken rule in ``{relative path: source}``."""
    offences = []
    for rel, source in files.items():
        imported = imports_of(source)
        for module in imported:
            allowed = HOMES.get(module.split(".")[0])
            if allowed is not None and not allowed(rel):
                offences.append(f"{rel} imports {module}")
            if _is_generic(rel) and any(_matches(module, d) for d in DOMAINS):
                kind = "shared network code" if rel.startswith("tasks/nets/") else "generic"
                offences.append(f"{rel} ({kind}) imports the domain module {module}")
            own = _domain_of(rel)
            if own is not None and any(_matches(module, d) for d in DOMAINS if d != own):
                offences.append(f"{rel} ({own}) imports another domain's module {module}")
            if _is_pure_domain(rel) and any(_matches(module, f) for f in PURE_FORBIDDEN):
                offences.append(f"{rel} (pure domain) imports {module}")
        if rel.startswith(PRODUCT):
            reach = imports_at_import_time(source) if rel == BENCH_DOOR else imported
            offences.extend(f"{rel} imports {module} (benchmarks/ is not part of the product)"
                            for module in reach if _matches(module, "benchmarks"))
        offences.extend(f"{rel} reaches into the private {name}" for name in private_reaches(source))
    return sorted(set(offences))


def _tree() -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in _sources()}


def test_the_tree_keeps_the_layering():
    assert layering_offences(_tree()) == []


@pytest.mark.parametrize(
    ("rel", "source", "offence"),
    [
        ("tasks/storage.py", "from tasks.forecasting.windowing import WindowTable",
         "tasks/storage.py (generic) imports the domain module tasks.forecasting.windowing"),
        ("tasks/tracking/runs.py", "import tasks.embeddings.text",
         "tasks/tracking/runs.py (generic) imports the domain module tasks.embeddings.text"),
        ("tasks/forecasting/panel.py", "from tasks import storage",
         "tasks/forecasting/panel.py (pure domain) imports tasks.storage"),
        ("tasks/forecasting/plots.py", "import mlflow", "tasks/forecasting/plots.py imports mlflow"),
        ("tasks/config.py", "import prefect", "tasks/config.py imports prefect"),
        ("tasks/lesson/trials.py", "from tasks.forecasting.metrics import mase",
         "tasks/lesson/trials.py (tasks.lesson) imports another domain's module tasks.forecasting.metrics"),
        ("tasks/study/steps.py", "import tasks.embeddings.text",
         "tasks/study/steps.py (tasks.study) imports another domain's module tasks.embeddings.text"),
        ("tasks/nets/training.py", "from tasks.study.config import StudyConfig",
         "tasks/nets/training.py (shared network code) imports the domain module tasks.study.config"),
        ("tasks/paths.py", "from benchmarks import speed",
         "tasks/paths.py imports benchmarks.speed (benchmarks/ is not part of the product)"),
        ("flows/forecast.py", "def later():\n    import benchmarks.forecast",
         "flows/forecast.py imports benchmarks.forecast (benchmarks/ is not part of the product)"),
        ("flows/cli/bench.py", "from benchmarks.speed import run_bench",
         "flows/cli/bench.py imports benchmarks.speed (benchmarks/ is not part of the product)"),
        ("benchmarks/speed.py", "import mlflow", "benchmarks/speed.py imports mlflow"),
        ("benchmarks/embed.py", "from tasks.embeddings.text import _token_frame",
         "benchmarks/embed.py reaches into the private tasks.embeddings.text._token_frame"),
        ("benchmarks/embed.py", "from tasks.embeddings import text\ntext._token_frame([], [])",
         "benchmarks/embed.py reaches into the private tasks.embeddings.text._token_frame"),
        ("flows/cli/forecast.py", "import flows.cli.options as shared\nshared._hidden",
         "flows/cli/forecast.py reaches into the private flows.cli.options._hidden"),
    ],
)
def test_a_deliberate_bad_import_is_caught(rel, source, offence):
    tree = _tree()
    tree[rel] = tree.get(rel, "") + "\n" + source + "\n"
    assert offence in layering_offences(tree)


def test_steps_may_meet_storage_and_prefect():
    meeting = "from prefect import task\nfrom tasks import storage, paths\n"
    tree = {"tasks/forecasting/steps.py": meeting, "tasks/forecasting/steps/data.py": meeting}
    assert layering_offences(tree) == []
    assert layering_offences({"tasks/forecasting/stepsish.py": meeting}) != []


def test_benchmarks_may_use_prefect_and_the_product_and_the_bench_commands_import_them_lazily():
    tree = {
        "benchmarks/speed.py": "from prefect import flow\nfrom flows import ephemeral\nfrom tasks import paths\n",
        "flows/cli/bench.py": "def speed():\n    from benchmarks.speed import run_bench\n",
    }
    assert layering_offences(tree) == []


def test_the_benchmarks_are_scanned():
    assert any(rel.startswith("benchmarks/") for rel in _tree())


def test_no_grab_bag_module_names():
    assert [p for p in _sources() if p.name in BANNED_NAMES] == []


# Keras' and TensorFlow's internals: no promise holds across their minor releases.
PRIVATE_FRAMEWORK = ("keras.src", "tf_keras.src", "tensorflow.python", "tensorflow.core", "tensorflow.tsl",
                     "tensorflow.compiler")


def private_framework_imports(files: dict[str, str]) -> list[str]:
    """Every import of Keras' or TensorFlow's private modules in ``{relative path: source}``, dynamic ones too."""
    offences = []
    for rel, source in files.items():
        modules = set(imports_of(source))
        for node in ast.walk(ast.parse(source)):
            if (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and (getattr(node.func, "attr", None) == "import_module"
                         or getattr(node.func, "id", None) in ("import_module", "__import__"))):
                modules.add(node.args[0].value)
        for module in modules:
            top, _, rest = module.partition(".")
            if (any(_matches(module, p) for p in PRIVATE_FRAMEWORK)
                    or (top in ("keras", "tensorflow", "tf_keras") and rest.startswith("_"))):
                offences.append(f"{rel} imports the private module {module}")
    return sorted(set(offences))


def test_keras_and_tensorflow_only_through_their_public_api():
    assert private_framework_imports(_tree()) == []


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter",
         "keras.src.trainers.data_adapters.array_data_adapter"),
        ("import keras.src.backend", "keras.src.backend"),
        ("from keras import src", "keras.src"),
        ("from tensorflow.python.framework import ops", "tensorflow.python.framework"),
        ("importlib.import_module('keras.src.utils')", "keras.src.utils"),
        ("from keras._tf_keras import keras", "keras._tf_keras"),
    ],
)
def test_a_private_framework_import_is_caught(source, module):
    files = {"tasks/nets/training.py": f"import importlib\n\n\ndef f():\n    {source}\n"}
    assert f"tasks/nets/training.py imports the private module {module}" in private_framework_imports(files)


def test_public_framework_imports_pass():
    source = "import keras\nimport tensorflow as tf\nfrom keras import layers\nfrom tensorflow import data\n"
    assert private_framework_imports({"tasks/nets/cells.py": source}) == []
