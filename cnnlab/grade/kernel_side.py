"""What runs inside the student's kernel: call one graded function on the grader's inputs and
write back what happened.

It only *reports* (each case's result or error, the calls into flagged modules seen by a call
tracer, the flagged names the function's code refers to, a tracer that was switched off); it
decides nothing: the grader scores the results in its own process.

It is not imported in the kernel but loaded **fresh from this file** by the extraction cell
(``extraction_cell``), and it loads ``wire`` and ``cnnlab._files`` fresh from theirs the same
way (``load_fresh``), and ``cnnlab.checks.compare`` (to tell whether a call changed its
arguments): a notebook that replaced ``cnnlab.grade.kernel_side``, ``wire``, ``cnnlab._files``
or ``cnnlab.checks`` in ``sys.modules`` does not reach this code. It imports
only the standard library (NumPy through ``wire``). A notebook can still break it (by
replacing ``builtins.open`` or ``numpy.load``, say): that only costs the notebook its own
results, which then fail to arrive.
"""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import time
import types

__all__ = ["MODULE_NAME", "load_fresh", "extraction_cell", "main", "Extraction", "Rules",
           "static_refs"]

MODULE_NAME = "cnnlab_grader_kernel_side"   # not under cnnlab.*: the tracer never flags it

_BOOT = f"""\
import importlib.util
spec = importlib.util.spec_from_file_location({MODULE_NAME!r}, path)
side = importlib.util.module_from_spec(spec)
spec.loader.exec_module(side)
side.main(job, user_ns)
"""


def load_fresh(name: str, path: str) -> types.ModuleType:
    """The module in file ``path``, executed anew (``sys.modules`` is neither read nor changed)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def extraction_cell(job: dict) -> str:
    """The source of the cell that grades one exercise in the kernel.

    job : JSON-able; ``job["modules"]`` names the files of "kernel_side", "wire", "files" and
          "compare"

    The cell runs its code in a namespace of its own and reaches everything through
    ``builtins``, so a notebook that rebinds exec, compile, open or json in its own namespace
    does not break it; the student's globals are only read (to find the function).
    """
    names = (f"{{'__builtins__': __cnnlab_grader, '__name__': '__cnnlab_grader__', "
             f"'user_ns': __cnnlab_grader.globals(), 'path': {job['modules']['kernel_side']!r}, "
             f"'job': {json.dumps(job)!r}}}")
    return ("import builtins as __cnnlab_grader\n"
            f"__cnnlab_grader.exec(__cnnlab_grader.compile({_BOOT!r}, '<cnnlab grader>', 'exec'),\n"
            f"                     {names})\n"
            "del __cnnlab_grader\n")


def main(job_json: str, user_ns: dict) -> None:
    """The extraction cell's entry point: load ``wire`` and ``_files`` fresh, then extract."""
    job = json.loads(job_json)
    modules = job["modules"]
    wire = load_fresh("cnnlab_grader_wire", modules["wire"])
    files = load_fresh("cnnlab_grader_files", modules["files"])
    compare = load_fresh("cnnlab_grader_compare", modules["compare"]) if "compare" in modules else None
    Extraction(job, user_ns, wire=wire, files=files, compare=compare).run()


# =========================================================================== flagged modules

class Rules:
    """Which modules a graded function may not lean on, and the exceptions to that.

    flagged         : module prefixes whose use is reported ("cnnlab.functional", "torch", ...)
    allowed         : function names never reported (the small formula helpers)
    allowed_modules : flagged prefixes this exercise is meant to build on
    """

    def __init__(self, flagged, allowed, allowed_modules):
        self.prefixes = tuple(flagged)
        self.allowed = frozenset(allowed)
        self.ok_prefixes = tuple(allowed_modules)
        self._flagged: dict = {}
        self._ok: dict = {}

    @staticmethod
    def _under(mod, prefixes) -> bool:
        return isinstance(mod, str) and any(mod == p or mod.startswith(p + ".") for p in prefixes)

    def flagged(self, mod) -> bool:
        hit = self._flagged.get(mod)
        if hit is None:
            hit = self._flagged[mod] = self._under(mod, self.prefixes)
        return hit

    def allowed_module(self, mod) -> bool:
        hit = self._ok.get(mod)
        if hit is None:
            hit = self._ok[mod] = self._under(mod, self.ok_prefixes)
        return hit

    def reported(self, mod) -> bool:
        return self.flagged(mod) and not self.allowed_module(mod)


def _code_names(code, out: set, depth: int = 0) -> None:
    out.update(code.co_names)
    if depth < 8:
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                _code_names(const, out, depth + 1)


def _function_of(f):
    """The Python function behind a callable (functools.partial, an object with __call__)."""
    target = f
    for _ in range(3):
        if isinstance(target, types.FunctionType):
            break
        target = getattr(target, "func", None) or getattr(target, "__call__", None)
        if isinstance(target, types.MethodType):
            target = target.__func__
    return target if isinstance(target, types.FunctionType) else None


def _cell_contents(cell, default):
    try:
        return cell.cell_contents
    except ValueError:   # an empty closure cell
        return default


def _module_attrs(mod, names, rules: Rules, refs: set) -> None:
    for attr in sorted(names):
        if attr in rules.allowed or attr.startswith("__"):
            continue
        try:
            has = attr in vars(mod)
        except TypeError:
            has = False
        if has:
            refs.add(f"{mod.__name__}.{attr}")


def static_refs(fn, rules: Rules) -> set:
    """The flagged names the code of ``fn`` refers to: through its globals (``F.``,
    ``cnnlab.functional.``, ``from ... import``), its closures and its defaults."""
    refs: set = set()
    target = _function_of(fn)
    if target is None:
        return refs
    names: set = set()
    _code_names(target.__code__, names)
    g = target.__globals__
    empty = object()
    objs = [g[n] for n in names if n in g]
    objs += [c for c in (_cell_contents(c, empty) for c in (target.__closure__ or ())) if c is not empty]
    objs += list(target.__defaults__ or ())
    for obj in objs:
        if isinstance(obj, types.ModuleType):
            mname = getattr(obj, "__name__", "")
            if rules.flagged(mname):
                if not rules.allowed_module(mname):
                    _module_attrs(obj, names, rules, refs)
                continue
            for attr in names:   # a package holding flagged modules: cnnlab.functional, scipy.signal
                sub = sys.modules.get(f"{mname}.{attr}")
                if sub is None and mname == "cnnlab" and attr == "F":
                    sub = sys.modules.get("cnnlab.functional")
                if isinstance(sub, types.ModuleType) and rules.reported(sub.__name__):
                    _module_attrs(sub, names, rules, refs)
        elif callable(obj):
            mod = getattr(obj, "__module__", None)
            oname = getattr(obj, "__name__", None) or type(obj).__name__
            if rules.reported(mod) and oname not in rules.allowed:
                refs.add(f"{mod}.{oname}")
    return refs


def declared_module(frame, mod):
    """The module a function says it belongs to: ``cnnlab.functional``'s functions live in its
    concept modules (``cnnlab.functional.conv``) but name the package in ``__module__``."""
    f = frame.f_globals.get(frame.f_code.co_name)
    if getattr(f, "__code__", None) is frame.f_code:
        return getattr(f, "__module__", None) or mod
    return mod


def make_profile(rules: Rules, calls: dict):
    """A ``sys.setprofile`` hook counting calls from outside the flagged modules into them."""
    flagged, reported, allowed = rules.flagged, rules.reported, rules.allowed

    def profile(frame, event, arg):
        if event == "call":
            mod = frame.f_globals.get("__name__")
            if flagged(mod):
                back = frame.f_back
                if (back is None or not flagged(back.f_globals.get("__name__"))) \
                        and reported(mod) and frame.f_code.co_name not in allowed:
                    mod = declared_module(frame, mod)
                    qual = f"{mod}.{frame.f_code.co_qualname}"
                    calls[qual] = calls.get(qual, 0) + 1
        elif event == "c_call":
            mod = getattr(arg, "__module__", None)
            if reported(mod) and not flagged(frame.f_globals.get("__name__")):
                qual = f"{mod}.{getattr(arg, '__name__', '?')}"
                calls[qual] = calls.get(qual, 0) + 1
    return profile


# =========================================================================== the extraction

class _CallTimeout(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _CallTimeout()


def _refuse(type_name, message):
    raise ValueError("an input holds an error")


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:
        return "<unprintable>"


class Extraction:
    """Grade one exercise in this kernel and write ``out_{index}.npz`` + ``.json`` into xdir.

    job     : xdir, index, function_name, cases (specs of args and kwargs), call_timeout,
              flagged, allowed, allowed_modules, max_bytes, driver (a file or None),
              keep_inputs (report a call that changed its arguments)
    user_ns : the notebook's namespace (only read)
    wire    : the wire codec module (loaded fresh)
    files   : the atomic writer module, ``cnnlab._files`` (loaded fresh)
    compare : ``cnnlab.checks.compare`` (loaded fresh), or None: no arguments compared
    """

    def __init__(self, job: dict, user_ns: dict, *, wire, files, compare=None):
        self.job, self.user_ns, self.wire, self.files = job, user_ns, wire, files
        self.compare = compare if job.get("keep_inputs") else None
        self.report = {"defined": False, "results": [], "calls": {}, "static": [],
                       "tampered": [], "seconds": 0.0, "error": None}
        max_bytes = int(job["max_bytes"])
        self.encoder = wire.Encoder(strict=False, max_array_bytes=max_bytes,
                                    max_bytes=4 * max_bytes)
        self.timeout = float(job["call_timeout"])

    def run(self) -> None:
        fn = self.user_ns.get(self.job["function_name"])
        if callable(fn):
            self.report["defined"] = True
            rules = Rules(self.job["flagged"], self.job["allowed"], self.job["allowed_modules"])
            try:
                self.report["static"] = sorted(static_refs(fn, rules))
            except Exception as exc:  # never let the static look break grading
                self.report["static_error"] = f"{type(exc).__name__}: {exc}"[:200]
            fn = self.driven(fn)
            with self.wire.load_npz(os.path.join(self.job["xdir"], "inputs.npz")) as npz:
                stored = {k: npz[k] for k in npz.files}
            self.run_cases(fn, stored, make_profile(rules, self.report["calls"]))
        self.save()

    def driven(self, fn):
        """``fn``, or, for an exercise with a driver (``job["driver"]``: a file, loaded fresh,
        whose ``drive(fn, *args, **kwargs)`` calls ``fn`` many times: the capstone's training
        run), the driver bound to ``fn``."""
        path = self.job.get("driver")
        if not path:
            return fn
        drive = load_fresh("cnnlab_grader_driver", path).drive
        return lambda *args, **kwargs: drive(fn, *args, **kwargs)

    def run_cases(self, fn, stored: dict, profile) -> None:
        results = self.report["results"]
        t_start = time.perf_counter()
        stop_reason = None
        for case in self.job["cases"]:
            if stop_reason is not None:
                results.append(self.wire.error_spec("TimeoutError", f"not run: {stop_reason}"))
                continue
            try:
                args = self.wire.decode(case["args"], stored, error=_refuse)
                kwargs = self.wire.decode(case["kwargs"], stored, error=_refuse)
            except Exception as exc:
                self.report["error"] = f"could not rebuild the inputs: {type(exc).__name__}: {exc}"
                break
            before = self._pristine(case, stored)
            outcome, stop_reason = self.call(fn, args, kwargs, profile, f"c{len(results)}")
            if before is not None and outcome.get("t") != "error":
                outcome = self._inputs_kept(fn, before, (args, kwargs)) or outcome
            results.append(outcome)
        self.report["seconds"] = time.perf_counter() - t_start

    def _pristine(self, case: dict, stored: dict):
        """Another copy of the case's (args, kwargs), to compare after the call, or None."""
        if self.compare is None:
            return None
        return (self.wire.decode(case["args"], stored, error=_refuse),
                self.wire.decode(case["kwargs"], stored, error=_refuse))

    def _inputs_kept(self, fn, before, after):
        """The error spec of a call that changed its arguments (naming them), or None."""
        try:
            changed = self.compare.changed_arguments(fn, before[0], before[1], after[0], after[1])
        except Exception:  # a comparison that breaks reports nothing
            return None
        if not changed:
            return None
        return self.wire.error_spec(self.compare.MODIFIED_INPUT, ", ".join(changed))

    def call(self, fn, args, kwargs, profile, key: str):
        """(the result's spec, why the remaining cases are not run or None): one call under the
        tracer and an alarm of ``call_timeout`` seconds."""
        use_alarm = hasattr(signal, "setitimer")
        old_handler = signal.signal(signal.SIGALRM, _on_alarm) if use_alarm else None
        too_long = f"the call took longer than {self.timeout:g} s"
        try:
            try:
                value = self._traced(fn, args, kwargs, profile, use_alarm)
                return self.encoder.encode(value, key), None
            except _CallTimeout:
                raise
            except KeyboardInterrupt:
                reason = "the grading cell was interrupted (time limit)"
                return self.wire.error_spec("TimeoutError", reason), reason
            except BaseException as exc:  # the student's exception, whatever it is
                return self.wire.error_spec(type(exc).__name__, _message(exc)), None
        except _CallTimeout:  # in the call, or in our own bookkeeping: a timeout either way
            return (self.wire.error_spec("TimeoutError", too_long),
                    f"an earlier case took longer than {self.timeout:g} s")
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old_handler)

    def _traced(self, fn, args, kwargs, profile, use_alarm: bool):
        old_profile = sys.getprofile()
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, self.timeout)
        sys.setprofile(profile)
        try:
            return fn(*args, **kwargs)
        finally:
            current = sys.getprofile()
            sys.setprofile(old_profile)
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if current is not profile and "profiler" not in self.report["tampered"]:
                self.report["tampered"].append("profiler")

    def save(self) -> None:
        """The arrays first, then the report (the grader reads a result once its JSON exists)."""
        base = os.path.join(self.job["xdir"], f"out_{self.job['index']}")
        self.files.write_bytes_atomic(base + ".npz", self.encoder.npz_bytes())
        self.files.write_text_atomic(base + ".json", json.dumps(self.report))
