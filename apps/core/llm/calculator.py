"""The sandboxed calculator that generation runs offer to models (`tools=["calculator"]`).

    await calculate("sqrt(2) * (3 + 4)**2")  # CalcResult(ok=True, value="69.29...")
    calculate_sync("1/0")  # CalcResult(ok=False, error="division by zero")

Whatever a model writes is answered with a `CalcResult`, never an exception (a non-string
argument is a programmer error and raises `TypeError`). Three layers keep it safe:

1. The expression: at most 500 ASCII characters (`×`, `÷` and `−` are read as `*`, `/`,
   `-`), no NUL or control characters, at most 100 levels of nesting. Its syntax tree is
   checked against a whitelist before anything is evaluated: numbers, `+ - * / // % **`,
   unary minus/plus, comparisons, calls of the listed functions by name (sqrt, log, exp,
   sin, cos, tan, floor, ceil, abs, round, min, max) and the constants pi and e. Names,
   attributes, subscripts, strings, lambdas, comprehensions, keyword arguments are refused
   with a short message the model can act on ("unknown name 'x'", "'^' is not supported:
   use ** for powers").
2. The arithmetic: `simpleeval` walks the checked tree with operators of our own that
   bound every number. An exponent above 10,000 is refused before it is computed, so is a
   power whose result would pass about 10**1000; any integer result beyond 10**1000 and any
   float overflow is refused too. Within these limits the slowest expression takes
   microseconds, and the result is at most ~1,000 characters.
3. The process: evaluation runs in a small long-lived child (`python -I -S` running this
   file, empty environment, cwd `/`, SIGINT ignored) with `RLIMIT_AS` (256 MB), a CPU-time
   backstop, and a wall-time limit (1 s) enforced by the parent, which kills the child
   on timeout or when it misbehaves and starts a fresh one for the next call. So even a
   blow-up nobody foresaw can neither hang the caller nor take the worker down.

A `Calculator` keeps a pool of `workers` children (2 by default), started on first use,
each answering one JSON line per call over its stdin/stdout (~0.1 ms a call instead of a
~50 ms process start). Calls from threads or from any event loop are safe: `calculate`
hands the blocking exchange to the calculator's own thread pool (one thread per child), so
50 concurrent calls queue there without holding the loop or the default executor. The
children are closed at interpreter exit and forgotten (not killed) in a forked child
process. `CALCULATOR_TOOL` and the tool registry are in `tool_specs.py`.
"""

from __future__ import annotations

import ast
import contextlib
import json
import math
import operator
import os
import signal
import sys
import threading
from dataclasses import asdict, dataclass
from typing import Any

# Parent-only modules are imported lazily below: this file is also the child's program,
# and every module imported at the top adds to its start-up time.

WORKER_FLAG = "--calculator-worker"
# The longest request and response lines the two sides accept (far above what the
# limits allow; a longer line means something is wrong and the child is replaced).
MAX_LINE_BYTES = 64 * 1024


@dataclass(frozen=True)
class CalcResult:
    """`ok` with the result as text in `value`, or not `ok` with a short `error`."""

    ok: bool
    value: str = ""
    error: str = ""

    @property
    def text(self) -> str:
        """What a model is shown: the value, or "Error: ..."."""
        return self.value if self.ok else f"Error: {self.error}"


@dataclass(frozen=True)
class CalcLimits:
    max_length: int = 500  # characters of expression
    max_depth: int = 100  # nesting of the syntax tree (and of brackets in the text)
    max_args: int = 50  # arguments of one call (min/max)
    max_exponent: int = 10_000  # |b| in int ** int
    max_digits: int = 1_000  # integers beyond about 10**max_digits are refused
    max_round_digits: int = 100  # |ndigits| in round(x, ndigits)
    max_result_chars: int = 1_100
    memory_bytes: int = 256 * 1024 * 1024  # RLIMIT_AS of the child
    cpu_seconds: int = 5  # RLIMIT_CPU backstop per evaluation, should the parent be gone

    @property
    def max_bits(self) -> int:
        # Integers of at most this many bits have at most max_digits decimal digits.
        return int(self.max_digits * math.log2(10))


DEFAULT_LIMITS = CalcLimits()

FUNCTION_NAMES = (
    "sqrt",
    "log",
    "exp",
    "sin",
    "cos",
    "tan",
    "floor",
    "ceil",
    "abs",
    "round",
    "min",
    "max",
)
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

# Characters models write for operators, read as Python's.
_TRANSLATE = str.maketrans({"×": "*", "÷": "/", "−": "-", "\t": " ", "\n": " ", "\r": " "})


class CalcError(Exception):
    """A model-readable reason the expression is not evaluated."""


# ----------------------------------------------------------------------------------------
# Checks of the text and of the syntax tree (run in the parent and again in the child)


def precheck(expression: str, limits: CalcLimits = DEFAULT_LIMITS) -> str:
    """The expression, normalized, or `CalcError` for text that is not worth parsing."""
    if "\x00" in expression:
        raise CalcError("the expression contains a NUL byte")
    text = expression.translate(_TRANSLATE).strip()
    if not text:
        raise CalcError("empty expression")
    if len(text) > limits.max_length:
        raise CalcError(f"expression too long ({len(text)} characters; max {limits.max_length})")
    for char in text:
        if not (" " <= char <= "~"):
            shown = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
            raise CalcError(f"unsupported character {shown}: use plain ASCII arithmetic")
    depth = 0
    for char in text:
        if char in "([{":
            depth += 1
            if depth > limits.max_depth:
                raise CalcError(f"expression too deeply nested (max {limits.max_depth} levels)")
        elif char in ")]}":
            depth -= 1
    return text


_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
_UNARYOPS = (ast.UAdd, ast.USub)
_CMPOPS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_REFUSED: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access (x.name) is not allowed",
    ast.Subscript: "indexing (x[...]) is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.Tuple: "tuples and lists are not allowed: write a single expression",
    ast.List: "tuples and lists are not allowed: write a single expression",
    ast.Set: "sets and dicts are not allowed",
    ast.Dict: "sets and dicts are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.BoolOp: "'and' and 'or' are not supported",
    ast.IfExp: "conditional expressions (x if c else y) are not supported",
    ast.Starred: "starred arguments (*x) are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
}


def _functions_hint() -> str:
    return ", ".join(FUNCTION_NAMES)


def check_tree(tree: ast.Expression, limits: CalcLimits = DEFAULT_LIMITS) -> None:
    """`CalcError` unless every node of the tree is whitelisted and it is not too deep."""
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.max_depth:
            raise CalcError(f"expression too deeply nested (max {limits.max_depth} levels)")
        if isinstance(node, ast.Constant):
            _check_constant(node.value, limits)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise CalcError(_operator_message(node.op))
            stack += [(node.left, depth + 1), (node.right, depth + 1)]
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, _UNARYOPS):
                raise CalcError(_operator_message(node.op))
            stack.append((node.operand, depth + 1))
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if not isinstance(op, _CMPOPS):
                    raise CalcError("only the comparisons < <= > >= == != are supported")
            stack += [(child, depth + 1) for child in (node.left, *node.comparators)]
        elif isinstance(node, ast.Call):
            _check_call(node, limits)
            stack += [(arg, depth + 1) for arg in node.args]
        elif isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                continue
            if node.id in FUNCTION_NAMES:
                raise CalcError(f"'{node.id}' is a function: call it, e.g. {node.id}(2)")
            raise CalcError(
                f"unknown name '{_short(node.id)}' (only the constants pi and e; no variables)"
            )
        else:
            raise CalcError(
                _REFUSED.get(type(node))
                or f"{type(node).__name__} is not allowed: use numbers, operators and "
                f"the functions {_functions_hint()}"
            )


def _check_constant(value: object, limits: CalcLimits) -> None:
    if isinstance(value, bool) or value is None or value is Ellipsis:
        raise CalcError(f"'{value}' is not allowed: only numbers are")
    if isinstance(value, str | bytes):
        raise CalcError("strings are not allowed")
    if isinstance(value, complex):
        raise CalcError("complex numbers are not supported")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CalcError("number too large")
    elif isinstance(value, int):
        if value.bit_length() > limits.max_bits:
            raise CalcError(f"number too large (limit is about 10**{limits.max_digits})")
    else:
        raise CalcError(f"{type(value).__name__} values are not allowed")


def _check_call(node: ast.Call, limits: CalcLimits) -> None:
    if not isinstance(node.func, ast.Name):
        if isinstance(node.func, ast.Constant | ast.BinOp | ast.UnaryOp | ast.Call):
            raise CalcError("implicit multiplication like 2(3) is not supported: write 2*(3)")
        if isinstance(node.func, ast.Attribute):
            raise CalcError(_REFUSED[ast.Attribute])
        raise CalcError(f"only these functions can be called: {_functions_hint()}")
    name = node.func.id
    if name not in FUNCTION_NAMES:
        raise CalcError(f"unknown function '{_short(name)}' (available: {_functions_hint()})")
    if node.keywords:
        raise CalcError(f"{name}() takes no keyword arguments")
    if len(node.args) > limits.max_args:
        raise CalcError(f"too many arguments for {name}() (max {limits.max_args})")


def _operator_message(op: ast.AST) -> str:
    if isinstance(op, ast.BitXor):
        return "'^' is not supported: use ** for powers (e.g. 2**10)"
    if isinstance(op, ast.Not):
        return "'not' is not supported"
    if isinstance(op, ast.MatMult):
        return "'@' is not supported"
    return "bitwise operators (& | ~ << >>) are not supported"


def _short(name: str) -> str:
    return name if len(name) <= 40 else name[:40] + "..."


# ----------------------------------------------------------------------------------------
# Bounded arithmetic


class _Arithmetic:
    """Operators and functions that refuse numbers beyond the limits."""

    def __init__(self, limits: CalcLimits) -> None:
        self.limits = limits
        self.max_bits = limits.max_bits

    def number(self, value: Any) -> Any:
        kind = type(value)
        if kind is int:
            if value.bit_length() > self.max_bits:
                raise CalcError(f"number too large (limit is about 10**{self.limits.max_digits})")
        elif kind is float:
            if not math.isfinite(value):
                raise CalcError("number too large (floating-point overflow)")
        elif kind is complex:
            raise CalcError(
                "the result is a complex number (e.g. a fractional power of a negative number)"
            )
        elif kind is not bool:
            raise CalcError(f"unsupported value of type {kind.__name__}")
        return value

    def binary(self, function: Any) -> Any:
        def apply(a: Any, b: Any) -> Any:
            return self.number(function(self.number(a), self.number(b)))

        return apply

    def unary(self, function: Any) -> Any:
        def apply(a: Any) -> Any:
            return self.number(function(self.number(a)))

        return apply

    def power(self, a: Any, b: Any) -> Any:
        a, b = self.number(a), self.number(b)
        if isinstance(a, int) and isinstance(b, int):
            if abs(b) > self.limits.max_exponent:
                raise CalcError(f"exponent too large (max {self.limits.max_exponent})")
            # floor(log2 |a|) * b is a lower bound of log2 |a**b|.
            if b > 0 and (abs(a).bit_length() - 1) * b > self.max_bits:
                raise CalcError(f"result too large (limit is about 10**{self.limits.max_digits})")
        return self.number(a**b)

    def operators(self) -> dict[type[ast.AST], Any]:
        return {
            ast.Add: self.binary(operator.add),
            ast.Sub: self.binary(operator.sub),
            ast.Mult: self.binary(operator.mul),
            ast.Div: self.binary(operator.truediv),
            ast.FloorDiv: self.binary(operator.floordiv),
            ast.Mod: self.binary(operator.mod),
            ast.Pow: self.power,
            ast.USub: self.unary(operator.neg),
            ast.UAdd: self.unary(operator.pos),
            ast.Lt: operator.lt,
            ast.LtE: operator.le,
            ast.Gt: operator.gt,
            ast.GtE: operator.ge,
            ast.Eq: operator.eq,
            ast.NotEq: operator.ne,
        }

    def functions(self) -> dict[str, Any]:
        def fixed(name: str, function: Any, low: int, high: int) -> Any:
            def call(*args: Any) -> Any:
                if not low <= len(args) <= high:
                    wanted = str(low) if low == high else f"{low} or {high}"
                    raise CalcError(f"{name}() takes {wanted} argument(s) ({len(args)} given)")
                return self.number(function(*(self.number(arg) for arg in args)))

            return call

        def rounded(x: Any, ndigits: Any = None) -> Any:
            if ndigits is None:
                return round(x)
            if type(ndigits) is not int or abs(ndigits) > self.limits.max_round_digits:
                limit = self.limits.max_round_digits
                raise CalcError(f"round(): digits must be a whole number from -{limit} to {limit}")
            return round(x, ndigits)

        def extreme(name: str, function: Any) -> Any:
            def call(*args: Any) -> Any:
                if not args:
                    raise CalcError(f"{name}() needs at least 1 argument")
                return function(self.number(arg) for arg in args)

            return call

        return {
            "sqrt": fixed("sqrt", math.sqrt, 1, 1),
            "log": fixed("log", math.log, 1, 2),
            "exp": fixed("exp", math.exp, 1, 1),
            "sin": fixed("sin", math.sin, 1, 1),
            "cos": fixed("cos", math.cos, 1, 1),
            "tan": fixed("tan", math.tan, 1, 1),
            "floor": fixed("floor", math.floor, 1, 1),
            "ceil": fixed("ceil", math.ceil, 1, 1),
            "abs": fixed("abs", abs, 1, 1),
            "round": fixed("round", rounded, 1, 2),
            "min": extreme("min", min),
            "max": extreme("max", max),
        }


def _make_evaluator(limits: CalcLimits) -> Any:
    """A simpleeval evaluator that knows only the whitelisted node types."""
    from simpleeval import NameNotDefined, SimpleEval

    arithmetic = _Arithmetic(limits)

    class _Evaluator(SimpleEval):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(
                operators=arithmetic.operators(),
                functions=arithmetic.functions(),
                names=dict(CONSTANTS),
            )
            # Only what check_tree lets through; anything else is FeatureNotAvailable.
            self.nodes = {
                ast.Constant: self._eval_constant,
                ast.UnaryOp: self._eval_unaryop,
                ast.BinOp: self._eval_binop,
                ast.Compare: self._eval_compare,
                ast.Call: self._eval_call,
                ast.Name: self._eval_name,
            }

        def _eval_name(self, node: ast.Name) -> Any:
            # Names only (simpleeval would also hand out the function objects).
            try:
                return self.names[node.id]
            except KeyError:
                raise NameNotDefined(node.id, self.expr) from None

    return _Evaluator()


def _evaluate(expression: str, limits: CalcLimits, evaluator: Any) -> CalcResult:
    """Evaluate in this process: the child's side, unsandboxed (use `Calculator`)."""
    try:
        text = precheck(expression, limits)
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            where = f" at column {exc.offset}" if exc.offset else ""
            message = (exc.msg or "invalid syntax").split(" (")[0]
            raise CalcError(f"syntax error{where}: {message}") from None
        check_tree(tree, limits)
        value = evaluator.eval(text, previously_parsed=tree.body)
        value = _Arithmetic(limits).number(value)
        shown = repr(value) if type(value) is float else str(value)
        if len(shown) > limits.max_result_chars:
            raise CalcError("result too long")
        return CalcResult(ok=True, value=shown)
    except CalcError as exc:
        return CalcResult(ok=False, error=str(exc))
    except ZeroDivisionError:
        return CalcResult(ok=False, error="division by zero")
    except OverflowError:
        return CalcResult(ok=False, error="number too large for floating-point arithmetic")
    except ValueError as exc:
        if "math domain error" in str(exc):
            return CalcResult(
                ok=False,
                error="math domain error (e.g. sqrt of a negative number or log of 0)",
            )
        return CalcResult(ok=False, error=f"invalid value: {str(exc)[:200]}")
    except RecursionError:
        return CalcResult(ok=False, error="expression too deeply nested")
    except MemoryError:
        return CalcResult(ok=False, error="out of memory")
    except TypeError as exc:
        return CalcResult(ok=False, error=f"wrong arguments: {str(exc)[:200]}")
    except Exception as exc:  # simpleeval's own refusals, anything unforeseen
        return CalcResult(ok=False, error=f"cannot evaluate: {str(exc)[:200]}")


# ----------------------------------------------------------------------------------------
# The child


def _worker_main(config_json: str) -> None:
    import resource
    import warnings

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.simplefilter("ignore")
    config = json.loads(config_json)
    sys.path[:0] = config["path"]
    limits = CalcLimits(**config["limits"])
    evaluator = _make_evaluator(limits)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    requests, replies = sys.stdin.buffer, sys.stdout.buffer

    def reply(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message).encode() + b"\n")
        replies.flush()

    reply({"ready": True, "pid": os.getpid()})
    while True:
        line = requests.readline(MAX_LINE_BYTES)
        if not line.endswith(b"\n"):
            return  # end of input (the parent is gone or closed us) or an oversized line
        request = json.loads(line)
        # Should the parent be gone mid-evaluation, the kernel stops a runaway.
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(usage.ru_utime + usage.ru_stime) + 1 + limits.cpu_seconds
        if cpu_hard == resource.RLIM_INFINITY or soft < cpu_hard:
            resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard))
        result = _evaluate(request["expression"], limits, evaluator)
        reply({"id": request["id"], **asdict(result)})


# ----------------------------------------------------------------------------------------
# The parent: a pool of children


class _WorkerTimeout(Exception):
    pass


class _WorkerGone(Exception):
    def __init__(self, reason: str, *, sent: bool = True) -> None:
        super().__init__(reason)
        self.sent = sent


class _Worker:
    """One child process and the exchange of JSON lines with it."""

    def __init__(self, argv: list[str], startup_timeout: float, generation: int) -> None:
        import subprocess
        import time

        self.generation = generation
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={},  # no secrets from our environment
                cwd="/",
                close_fds=True,
                bufsize=0,
            )
        except OSError as exc:
            raise _WorkerGone(f"the calculator process did not start ({exc})") from None
        self._buffer = b""
        self._ids = 0
        try:
            hello = json.loads(self._read_line(time.monotonic() + startup_timeout))
        except (_WorkerTimeout, _WorkerGone, ValueError) as exc:
            self.kill()
            raise _WorkerGone(f"the calculator process did not start ({exc})") from None
        if not isinstance(hello, dict) or hello.get("ready") is not True:
            self.kill()
            raise _WorkerGone("the calculator process did not start")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ask(self, expression: str, timeout: float) -> CalcResult:
        import time

        self._ids += 1
        line = json.dumps({"id": self._ids, "expression": expression}).encode() + b"\n"
        stdin = self.proc.stdin
        assert stdin is not None
        view = memoryview(line)
        try:
            while view:
                view = view[os.write(stdin.fileno(), view) :]
        except OSError as exc:  # BrokenPipeError: it died while idle
            raise _WorkerGone(f"write failed: {exc}", sent=False) from None
        deadline = time.monotonic() + timeout
        try:
            reply = json.loads(self._read_line(deadline))
            ok, value, error = reply["ok"], reply["value"], reply["error"]
            if reply["id"] != self._ids or type(ok) is not bool:
                raise ValueError("mismatched reply")
            if not isinstance(value, str) or not isinstance(error, str):
                raise ValueError("malformed reply")
        except (ValueError, KeyError, TypeError) as exc:
            raise _WorkerGone(f"bad reply: {exc}") from None
        return CalcResult(ok=ok, value=value, error=error)

    def _read_line(self, deadline: float) -> bytes:
        import select
        import time

        stdout = self.proc.stdout
        assert stdout is not None
        fd = stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _WorkerTimeout
            if not poller.poll(max(1, math.ceil(remaining * 1000))):
                continue
            chunk = os.read(fd, MAX_LINE_BYTES)
            if not chunk:
                raise _WorkerGone("the process ended")
            self._buffer += chunk
            if len(self._buffer) > MAX_LINE_BYTES:
                raise _WorkerGone("reply too long")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close_pipes()

    def close(self, grace: float = 0.5) -> None:
        """End of input first (the child exits by itself), SIGKILL if it lingers."""
        import subprocess

        self._close_pipes()
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def forget(self) -> None:
        """In a forked child: drop our copies of the pipes, leave the process alone."""
        self._close_pipes()
        self.proc.returncode = 0  # not ours to wait for

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


class Calculator:
    """A pool of sandboxed evaluator processes; see the module docstring."""

    def __init__(
        self,
        *,
        limits: CalcLimits = DEFAULT_LIMITS,
        timeout: float = 1.0,
        workers: int = 2,
        startup_timeout: float = 10.0,
    ) -> None:
        if workers < 1 or timeout <= 0:
            raise ValueError("workers must be >= 1 and timeout > 0")
        self.limits = limits
        self.timeout = timeout
        self.workers = workers
        self.startup_timeout = startup_timeout
        self._argv = self._worker_argv()
        self._setup()
        _register(self)

    def _setup(self) -> None:
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.workers)
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()
        self._generation = 0
        self._executor: Any = None

    def _worker_argv(self) -> list[str]:
        import importlib.util

        spec = importlib.util.find_spec("simpleeval")
        if spec is None or spec.origin is None:
            raise RuntimeError("simpleeval is not installed")
        config = {"limits": asdict(self.limits), "path": [os.path.dirname(spec.origin)]}
        program = os.path.abspath(__file__)
        return [sys.executable, "-I", "-S", "-B", program, WORKER_FLAG, json.dumps(config)]

    # -- public API

    def calculate_sync(self, expression: str) -> CalcResult:
        """Evaluate in a child process; blocks (up to the timeout once a child is free)."""
        try:
            text = self._precheck(expression)
        except CalcError as exc:
            return CalcResult(ok=False, error=str(exc))
        return self._run(text)

    async def calculate(self, expression: str) -> CalcResult:
        """`calculate_sync` without blocking the event loop."""
        import asyncio

        try:
            text = self._precheck(expression)
        except CalcError as exc:
            return CalcResult(ok=False, error=str(exc))
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._get_executor(), self._run, text)
        except RuntimeError:  # close() shut that executor down just now
            future = loop.run_in_executor(self._get_executor(), self._run, text)
        result: CalcResult = await future
        return result

    def worker_pids(self) -> list[int]:
        """The children alive now (for tests and the admin)."""
        with self._lock:
            return sorted(worker.pid for worker in self._live if worker.alive())

    def close(self) -> None:
        """Stop the children (idle ones now, busy ones when their call ends). Later calls
        start new ones."""
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, []
            executor, self._executor = self._executor, None
        for worker in idle:
            self._discard(worker, graceful=True)
        if executor is not None:
            executor.shutdown(wait=False)  # queued calls still run

    def __enter__(self) -> Calculator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals

    def _precheck(self, expression: str) -> str:
        if not isinstance(expression, str):
            raise TypeError(f"expression must be a str, not {type(expression).__name__}")
        return precheck(expression, self.limits)

    def _get_executor(self) -> Any:
        from concurrent.futures import ThreadPoolExecutor

        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="calculator"
                )
            return self._executor

    def _run(self, text: str) -> CalcResult:
        with self._slots:
            for attempt in range(2):
                try:
                    worker = self._take()
                except _WorkerGone as exc:
                    _logger().error("calculator: %s", exc)
                    return CalcResult(ok=False, error="the calculator is unavailable right now")
                try:
                    result = worker.ask(text, self.timeout)
                except _WorkerTimeout:
                    _logger().warning(
                        "calculator: %r took over %g s; killing process %d",
                        text[:100],
                        self.timeout,
                        worker.pid,
                    )
                    self._discard(worker)
                    return CalcResult(
                        ok=False,
                        error=f"calculation took too long (limit {self.timeout:g} s): stopped",
                    )
                except _WorkerGone as exc:
                    self._discard(worker)
                    if not exc.sent and attempt == 0:
                        continue  # it had died while idle: once more with a new one
                    _logger().warning(
                        "calculator: process %d failed on %r: %s", worker.pid, text[:100], exc
                    )
                    return CalcResult(
                        ok=False,
                        error="the calculation failed (out of memory or crashed) and was stopped",
                    )
                self._give(worker)
                return result
        raise AssertionError("unreachable")

    def _take(self) -> _Worker:
        with self._lock:
            generation = self._generation
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                self._live.discard(worker)
                worker.kill()
        worker = _Worker(self._argv, self.startup_timeout, generation)
        with self._lock:
            self._live.add(worker)
        return worker

    def _give(self, worker: _Worker) -> None:
        with self._lock:
            if worker.generation == self._generation:
                self._idle.append(worker)
                return
        self._discard(worker, graceful=True)

    def _discard(self, worker: _Worker, *, graceful: bool = False) -> None:
        with self._lock:
            self._live.discard(worker)
        if graceful:
            worker.close()
        else:
            worker.kill()

    def _kill_all(self) -> None:
        with self._lock:
            workers, self._live, self._idle = list(self._live), set(), []
            self._generation += 1
        for worker in workers:
            worker.kill()

    def _forget_after_fork(self) -> None:
        for worker in list(self._live):
            worker.forget()
        self._setup()


def _logger() -> Any:
    import logging

    return logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------
# Every calculator of the process: closed at exit, forgotten in a forked child

_instances: Any = None
_registry_lock = threading.Lock()


def _register(calculator: Calculator) -> None:
    global _instances
    with _registry_lock:
        if _instances is None:
            import atexit
            import weakref

            _instances = weakref.WeakSet()
            atexit.register(_close_all)
            os.register_at_fork(after_in_child=_forget_all_after_fork)
        _instances.add(calculator)


def _close_all() -> None:
    for calculator in list(_instances or ()):
        calculator._kill_all()


def _forget_all_after_fork() -> None:
    global _registry_lock, _default_lock
    # Another thread may have held them at the fork; it does not exist here.
    _registry_lock, _default_lock = threading.Lock(), threading.Lock()
    for calculator in list(_instances or ()):
        calculator._forget_after_fork()


_default: Calculator | None = None
_default_lock = threading.Lock()


def default_calculator() -> Calculator:
    """The process's shared calculator (default limits, 1 s, 2 children)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Calculator()
        return _default


async def calculate(expression: str) -> CalcResult:
    """Evaluate `expression` in the sandbox without blocking the event loop."""
    return await default_calculator().calculate(expression)


def calculate_sync(expression: str) -> CalcResult:
    """Evaluate `expression` in the sandbox (blocking; for tests, the admin, sync code)."""
    return default_calculator().calculate_sync(expression)


if __name__ == "__main__" and sys.argv[1:2] == [WORKER_FLAG]:
    _worker_main(sys.argv[2])
