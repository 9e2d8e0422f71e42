"""The flow's modules import beside TensorFlow's (in a thread): they must not share an import cycle with it."""

from __future__ import annotations

import subprocess
import sys


def test_the_flow_modules_do_not_import_what_keras_imports_in_the_other_thread():
    # Keras imports scikit-learn, which imports narwhals; statsmodels imports it too (via formulaic).
    # Imported from two threads at once, narwhals' import cycle deadlocked the CLI's start-up, so
    # statsmodels is imported inside the baseline task, at run time, never with the flow's modules.
    code = (
        "import sys; import flows.forecast; "
        "print(sorted(m for m in ('statsmodels', 'narwhals', 'sklearn', 'formulaic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
