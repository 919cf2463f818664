"""The sandboxed calculator tool: arithmetic, refused escapes, limits, the child process
(timeouts, crashes, memory limit, no leaked processes) and the tool's JSON arguments."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from apps.core.llm import calculator as calculator_module
from apps.core.llm.calculator import (
    DEFAULT_LIMITS,
    CalcLimits,
    CalcResult,
    Calculator,
    calculate,
    calculate_sync,
)
from apps.core.llm.tool_specs import CALCULATOR_TOOL, TOOLS, Tool
from tests.fakes.helpers import run_async

CALCULATOR_FILE = Path(calculator_module.__file__).resolve()
# Limits loose enough for an expression to run for minutes (7**(10**8) does): only the
# wall-time limit stops it.
LOOSE = CalcLimits(max_exponent=10**9, max_digits=10**9)
SLOW = "7**(10**8)"
NO_HANG = 10.0  # generous bound: "answered, did not hang"


@pytest.fixture(scope="module")
def calc() -> Iterator[Calculator]:
    with Calculator() as calculator:
        yield calculator


@pytest.fixture
def loose() -> Iterator[Calculator]:
    """One child, 1 s wall time, and limits that let a calculation run long."""
    with Calculator(limits=LOOSE, timeout=1.0, workers=1) as calculator:
        yield calculator


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie has ended (its reaper may be slow)


def wait_gone(pids: list[int], seconds: float = NO_HANG) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if process_alive(pid)]
        if not alive:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if process_alive(pid)]


# ---------------------------------------------------------------------------------------
# Arithmetic


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2*(3+4)", "14"),
        ("sqrt(16)", "4.0"),
        ("2**10", "1024"),
        ("2 ** -1", "0.5"),
        ("7 // 2", "3"),
        ("7 % 3", "1"),
        ("-3 + 1", "-2"),
        ("-(2 + 3) * +4", "-20"),
        ("1 / 4", "0.25"),
        ("0.1 + 0.2", "0.30000000000000004"),
        ("1_000 * 3", "3000"),
        ("max(1, 2.5, -3)", "2.5"),
        ("min(4, 2, 8)", "2"),
        ("round(pi, 2)", "3.14"),
        ("round(2.7)", "3"),
        ("floor(2.7) + ceil(2.1)", "5"),
        ("abs(-5)", "5"),
        ("log(100, 10)", "2.0"),
        ("log(e)", "1.0"),
        ("exp(0)", "1.0"),
        ("sin(0) + cos(0) + tan(0)", "1.0"),
        ("1 < 2 <= 2", "True"),
        ("3 == 4", "False"),
        ("5 × 3 ÷ 2 − 1", "6.5"),  # the signs models like to write
        ("  2 +\n 3 ", "5"),
        ("10**999 // 10**998", "10"),
        ("2**3320 > 10**999", "True"),
    ],
)
def test_arithmetic(calc: Calculator, expression: str, value: str) -> None:
    assert calc.calculate_sync(expression) == CalcResult(ok=True, value=value)


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("1/0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("x + 1", "unknown name 'x'"),
        ("foo(1)", "unknown function 'foo'"),
        ("sqrt", "'sqrt' is a function"),
        ("2^10", "use ** for powers"),
        ("2(3)", "write 2*(3)"),
        ("sqrt(-1)", "math domain error"),
        ("log(0)", "math domain error"),
        ("(-8) ** (1/3)", "complex number"),
        ("1e308 * 10", "number too large"),
        ("1e999", "number too large"),
        ("exp(1000)", "number too large"),
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("2 +", "syntax error"),
        ("1; 2", "syntax error"),
        ("x = 1", "syntax error"),
        ("import os", "syntax error"),
        ("min()", "min() needs at least 1 argument"),
        ("sqrt(1, 2)", "sqrt() takes 1 argument(s) (2 given)"),
        ("round(5, -1000000)", "round(): digits must be a whole number"),
        ("round(1.5, 0.5)", "round(): digits must be a whole number"),
        ("1, 2", "single expression"),
        ("True + 1", "only numbers"),
        ("1j", "complex numbers"),
        ("1 if 2 else 3", "conditional expressions"),
        ("1 and 2", "'and' and 'or'"),
        ("1 << 3", "bitwise"),
        ("1 is 1", "comparisons"),
        ("max(*(1, 2))", "starred"),
        ("round(2.5, ndigits=1)", "keyword arguments"),
        ("２+２", "unsupported character"),
    ],
)
def test_errors_are_short_and_readable(calc: Calculator, expression: str, error: str) -> None:
    result = calc.calculate_sync(expression)
    assert not result.ok
    assert result.value == ""
    assert error in result.error
    assert len(result.error) < 200
    assert result.text == f"Error: {result.error}"


def test_non_string_is_a_programmer_error(calc: Calculator) -> None:
    with pytest.raises(TypeError):
        calc.calculate_sync(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        run_async(calc.calculate(None))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Escapes


def escapes(marker: Path) -> list[str]:
    touch = f"__import__('os').system('touch {marker}')"
    return [
        "__import__('os')",
        touch,
        f"open('{marker}', 'w').write('x')",
        "().__class__.__bases__[0].__subclasses__()",
        "(1).__class__.__base__.__subclasses__()",
        f"[{touch} for x in (1,)]",
        f"{{{touch} for x in (1,)}}",
        f"sum({touch} for x in (1,))",
        f"(lambda: {touch})()",
        "(lambda: 1)",
        "(1).real",
        "(1).__class__",
        "sqrt.__globals__",
        "'abc'",
        "b'abc'",
        "f'{1+1}'",
        f'eval("{touch}")',
        "exec('1')",
        "getattr(1, 'real')",
        "globals()",
        "__builtins__",
        "[1, 2][0]",
        "{'a': 1}",
        f"(y := {touch})",
        f"max(key={touch})",
        "__import__",
        "type(1)",
    ]


def test_escapes_are_refused_without_side_effects(calc: Calculator, tmp_path: Path) -> None:
    marker = tmp_path / "escaped"
    for expression in escapes(marker):
        result = calc.calculate_sync(expression)
        assert not result.ok, expression
        assert result.error, expression
    assert not marker.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("().__class__.__subclasses__()", "attribute access"),
        ("(1).real", "attribute access"),
        ("lambda: 1", "lambda is not allowed"),
        ("[x for x in (1, 2)]", "comprehensions are not allowed"),
        ("'abc'", "strings are not allowed"),
        ("__import__('os')", "unknown function '__import__'"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("[1][0]", "not allowed"),
    ],
)
def test_escape_messages(calc: Calculator, expression: str, error: str) -> None:
    result = calc.calculate_sync(expression)
    assert not result.ok
    assert error in result.error


def test_the_evaluator_refuses_on_its_own() -> None:
    """Second layer: simpleeval, as configured, refuses what the tree check would have
    caught first (attributes, subscripts, function objects as values, builtins)."""
    evaluator = calculator_module._make_evaluator(DEFAULT_LIMITS)

    def evaluate(expression: str) -> object:
        return evaluator.eval(expression, previously_parsed=ast.parse(expression, "", "eval").body)

    assert evaluate("2*(3+4)") == 14
    for expression in ("(1).__class__", "[1][0]", "sqrt", "open", "__import__", "'a' * 3"):
        with pytest.raises(Exception):  # noqa: B017 (any refusal will do)
            evaluate(expression)


# ---------------------------------------------------------------------------------------
# Limits


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("999999**999999", "exponent too large (max 10000)"),
        ("9**9**9**9", "exponent too large (max 10000)"),
        ("2**-999999", "exponent too large (max 10000)"),
        ("9**5000", "result too large"),
        ("10**1000", "number too large"),
        ("10**999 * 10", "number too large"),
        ("(10**600) * (10**600)", "number too large"),
        ("2.0**100000", "number too large"),
        ("floor(1e308) * floor(1e308) * floor(1e308) * floor(1e308)", "number too large"),
        ("(10**999)**-1", "number too large"),
        ("round(5, -100000000)", "round(): digits"),
    ],
)
def test_huge_numbers_refused_quickly(calc: Calculator, expression: str, error: str) -> None:
    started = time.monotonic()
    result = calc.calculate_sync(expression)
    assert time.monotonic() - started < NO_HANG
    assert not result.ok
    assert error in result.error


def test_results_are_bounded(calc: Calculator) -> None:
    result = calc.calculate_sync("10**999 * 2")
    assert result.ok
    assert len(result.value) == 1000
    assert len(calc.calculate_sync("floor(1e308)").value) == 309


def test_bad_input_text(calc: Calculator) -> None:
    assert "NUL byte" in calc.calculate_sync("1+\x002").error
    assert "NUL byte" in calc.calculate_sync("\x00" * 10_000).error
    assert "unsupported character" in calc.calculate_sync("1+\x1b2").error

    long = calc.calculate_sync("1+" * 300 + "1")
    assert "expression too long (601 characters; max 500)" in long.error

    started = time.monotonic()
    deep = calc.calculate_sync("(" * 10_000 + "1" + ")" * 10_000)
    assert "expression too long" in deep.error
    assert time.monotonic() - started < NO_HANG

    # Within the length limit: too deep for the parser's comfort and ours.
    assert (
        "too deeply nested (max 100 levels)"
        in calc.calculate_sync("(" * 150 + "1" + ")" * 150).error
    )
    assert "too deeply nested" in calc.calculate_sync("[" * 200 + "]" * 200).error
    assert "too deeply nested" in calc.calculate_sync("-" * 400 + "1").error
    assert "too deeply nested" in calc.calculate_sync("2**" * 150 + "1").error
    # Deep but allowed.
    assert calc.calculate_sync("(" * 90 + "1" + ")" * 90).value == "1"
    assert calc.calculate_sync("+".join(["1"] * 90)).value == "90"
    # The long-input errors came from the parent, the child is fine.
    assert calc.calculate_sync("6*7").value == "42"


def test_the_parent_refuses_bad_text_without_a_child() -> None:
    with Calculator() as calculator:
        assert not calculator.calculate_sync("x" * 501).ok
        assert not calculator.calculate_sync("1\x00").ok
        assert calculator.worker_pids() == []


# ---------------------------------------------------------------------------------------
# The child process


def test_timeout_kills_and_replaces_the_child(loose: Calculator) -> None:
    assert loose.calculate_sync("1+1").value == "2"
    [first] = loose.worker_pids()

    started = time.monotonic()
    result = loose.calculate_sync(SLOW)
    elapsed = time.monotonic() - started
    assert not result.ok
    assert result.error == "calculation took too long (limit 1 s): stopped"
    assert 0.9 < elapsed < NO_HANG
    assert not process_alive(first)

    assert loose.calculate_sync("2+2").value == "4"
    [second] = loose.worker_pids()
    assert second != first


def test_the_default_limits_stop_the_slow_expression_before_it_runs(calc: Calculator) -> None:
    started = time.monotonic()
    assert "exponent too large" in calc.calculate_sync(SLOW).error
    assert time.monotonic() - started < 0.9  # no timeout involved


def test_a_child_that_dies_mid_call_is_replaced(loose: Calculator) -> None:
    assert loose.calculate_sync("1+1").ok
    [pid] = loose.worker_pids()
    threading.Timer(0.3, os.kill, (pid, signal.SIGKILL)).start()
    result = loose.calculate_sync(SLOW)
    assert not result.ok
    assert "failed" in result.error
    assert loose.calculate_sync("3*3").value == "9"
    assert loose.worker_pids() != [pid]


def test_a_child_that_died_while_idle_is_replaced_silently(calc: Calculator) -> None:
    assert calc.calculate_sync("1+1").ok
    pids = calc.worker_pids()
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    assert wait_gone(pids) == []
    assert calc.calculate_sync("3*4").value == "12"
    assert set(calc.worker_pids()).isdisjoint(pids)


def test_the_child_is_confined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEEDBED_CALCULATOR_TEST_SECRET", "hunter2")
    with Calculator(workers=1) as calculator:
        assert calculator.calculate_sync("1").ok
        [pid] = calculator.worker_pids()
        limits = Path(f"/proc/{pid}/limits").read_text()
        address_space = next(line for line in limits.splitlines() if "address space" in line)
        assert address_space.split()[3:5] == [str(256 * 1024 * 1024)] * 2
        core = next(line for line in limits.splitlines() if "core file" in line)
        assert core.split()[4:6] == ["0", "0"]
        assert Path(f"/proc/{pid}/environ").read_bytes() == b""
        assert os.readlink(f"/proc/{pid}/cwd") == "/"
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert b"-I" in cmdline and b"-S" in cmdline


def test_close_ends_the_children() -> None:
    calculator = Calculator(workers=2)
    results = run_async(_gather(calculator, [f"{i}+1" for i in range(20)]))
    assert [result.value for result in results] == [str(i + 1) for i in range(20)]
    pids = calculator.worker_pids()
    assert 1 <= len(pids) <= 2
    calculator.close()
    assert wait_gone(pids) == []
    # Usable again afterwards, with new children.
    assert calculator.calculate_sync("2*2").value == "4"
    calculator.close()


LIFECYCLE_SCRIPT = textwrap.dedent(
    """
    import importlib.util, os, sys, threading, time
    spec = importlib.util.spec_from_file_location("calc", sys.argv[1])
    calc = importlib.util.module_from_spec(spec)
    sys.modules["calc"] = calc
    spec.loader.exec_module(calc)
    mode = sys.argv[2]
    if mode.startswith("busy"):  # a calculation that runs for minutes, no wall-time limit
        cpu = 1 if mode == "busy-killed" else 60
        limits = calc.CalcLimits(max_exponent=10**9, max_digits=10**9, cpu_seconds=cpu)
        c = calc.Calculator(limits=limits, timeout=600, workers=1)
    else:
        c = calc.Calculator(workers=1)
    assert c.calculate_sync("6*7").value == "42"
    print("worker", c.worker_pids()[0], flush=True)
    if mode.startswith("busy"):
        threading.Thread(target=c.calculate_sync, args=("7**(10**8)",), daemon=True).start()
        time.sleep(0.3)
    if mode == "fork":
        child = os.fork()
        if child == 0:
            ok = c.calculate_sync("2+3").value == "5"
            print("fork-worker", c.worker_pids()[0], flush=True)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(child, 0)
        assert status == 0, status
        assert c.calculate_sync("1+1").value == "2"
    elif mode == "fork-sleep":
        child = os.fork()
        if child == 0:
            time.sleep(60)
            os._exit(0)
        print("forked", child, flush=True)
        time.sleep(60)
    elif mode in ("hang", "busy-killed"):
        time.sleep(60)
    """
)


def _lifecycle(mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", LIFECYCLE_SCRIPT, str(CALCULATOR_FILE), mode],
        stdout=subprocess.PIPE,
        text=True,
    )


def _worker_pid(proc: subprocess.Popen[str], label: str = "worker") -> int:
    assert proc.stdout is not None
    word, pid = proc.stdout.readline().split()
    assert word == label
    return int(pid)


def test_children_end_at_interpreter_exit() -> None:
    proc = _lifecycle("exit")
    pid = _worker_pid(proc)
    assert proc.wait(NO_HANG) == 0
    assert wait_gone([pid]) == []


def test_children_end_when_the_parent_is_killed() -> None:
    proc = _lifecycle("hang")
    pid = _worker_pid(proc)
    assert process_alive(pid)
    proc.kill()
    proc.wait(NO_HANG)
    assert wait_gone([pid]) == []  # end of its input


def test_busy_children_are_killed_at_interpreter_exit() -> None:
    proc = _lifecycle("busy-exit")
    pid = _worker_pid(proc)
    assert proc.wait(NO_HANG) == 0
    # Mid-calculation it reads no input: only the exit handler's kill ends it this soon
    # (its CPU backstop is 60 s here).
    assert wait_gone([pid], 5.0) == []


def test_a_busy_orphan_is_stopped_by_its_cpu_limit() -> None:
    proc = _lifecycle("busy-killed")
    pid = _worker_pid(proc)
    time.sleep(0.2)
    proc.kill()  # no exit handler, no parent to enforce the wall time
    proc.wait(NO_HANG)
    assert process_alive(pid)
    assert wait_gone([pid]) == []  # RLIMIT_CPU: 1 s more than it had used


def test_a_forked_process_lets_go_of_the_parents_children() -> None:
    """A forked child (a Celery pool process) drops its copies of the parent's pipes, so
    the parent's children still see the end of their input when the parent dies."""
    proc = _lifecycle("fork-sleep")
    worker = _worker_pid(proc)
    forked = _worker_pid(proc, "forked")
    try:
        proc.kill()
        proc.wait(NO_HANG)
        assert wait_gone([worker]) == []
        assert process_alive(forked)
    finally:
        os.kill(forked, signal.SIGKILL)


def test_a_forked_process_starts_its_own_children() -> None:
    proc = _lifecycle("fork")
    parent_worker = _worker_pid(proc)
    fork_worker = _worker_pid(proc, "fork-worker")
    assert proc.wait(NO_HANG) == 0
    assert fork_worker != parent_worker
    assert wait_gone([parent_worker, fork_worker]) == []


# ---------------------------------------------------------------------------------------
# Concurrency


async def _gather(calculator: Calculator, expressions: list[str]) -> list[CalcResult]:
    return await asyncio.gather(*(calculator.calculate(e) for e in expressions))


def test_50_concurrent_async_calls() -> None:
    async def main() -> list[CalcResult]:
        return await asyncio.wait_for(
            asyncio.gather(*(calculate(f"{i} * {i} + 1") for i in range(50))), NO_HANG
        )

    results = run_async(main())
    assert [result.value for result in results] == [str(i * i + 1) for i in range(50)]
    assert all(result.ok for result in results)
    # The module's calculator keeps at most its two children.
    assert len(calculator_module.default_calculator().worker_pids()) <= 2
    assert calculate_sync("2*(3+4)").value == "14"


def test_concurrent_calls_from_threads_and_loops(calc: Calculator) -> None:
    errors: list[str] = []

    def work(n: int) -> None:
        for i in range(20):
            expected = str(n * 100 + i)
            got = (
                calc.calculate_sync(f"{n}*100+{i}")
                if i % 2
                else asyncio.run(calc.calculate(f"{n}*100+{i}"))
            )
            if got.value != expected:
                errors.append(f"{expected}: {got}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(NO_HANG * 3)
    assert errors == []
    assert len(calc.worker_pids()) <= 2


def test_a_slow_call_does_not_block_the_loop_or_the_other_calls() -> None:
    with Calculator(limits=LOOSE, timeout=1.0, workers=2) as calculator:

        async def main() -> tuple[CalcResult, list[CalcResult], int]:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            tick_task = asyncio.create_task(ticker())
            slow = asyncio.create_task(calculator.calculate(SLOW))
            await asyncio.sleep(0.1)
            fast = [await calculator.calculate(f"{i}+{i}") for i in range(10)]
            slow_result = await slow
            tick_task.cancel()
            return slow_result, fast, ticks

        slow_result, fast, ticks = run_async(main())
        assert "took too long" in slow_result.error
        assert [result.value for result in fast] == [str(2 * i) for i in range(10)]
        assert ticks > 20  # the loop kept running during the 1 s calculation


# ---------------------------------------------------------------------------------------
# The tool


def test_the_tool_spec() -> None:
    tool = TOOLS["calculator"]
    assert isinstance(tool, Tool)
    assert tool.spec is CALCULATOR_TOOL
    assert CALCULATOR_TOOL["name"] == "calculator"
    assert "sqrt" in CALCULATOR_TOOL["description"]
    schema = CALCULATOR_TOOL["parameters"]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["required"] == ["expression"]
    assert schema["properties"]["expression"]["type"] == "string"
    jsonschema.validate({"expression": "1+1"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({}, schema)
    json.dumps(CALCULATOR_TOOL)  # plain JSON


@pytest.mark.parametrize(
    ("arguments", "answer"),
    [
        ('{"expression": "2*(3+4)"}', "14"),
        ('{"expression": "sqrt(16)", "note": "extra keys are ignored"}', "4.0"),
        ({"expression": "10 / 4"}, "2.5"),  # Anthropic's parsed `input`
        ('{"expression": 42}', "42"),
        ('{"expression": 1.5}', "1.5"),
        ('{"expression": "1/0"}', "Error: division by zero"),
        ('{"expression": "x"}', "Error: unknown name 'x'"),
        ('{"expression": "__import__(\'os\')"}', "Error: unknown function '__import__'"),
        ('{"expression": null}', "Error: 'expression' must be a string"),
        ('{"expression": ["1+1"]}', "Error: 'expression' must be a string"),
        ('{"expression": true}', "Error: 'expression' must be a string"),
        ('{"expression": ""}', "Error: empty expression"),
        ("{}", "Error: missing required argument 'expression'"),
        ("", "Error: missing required argument 'expression'"),
        ('{"expr": "1+1"}', "Error: missing required argument 'expression'"),
        ("not json", "Error: the arguments are not valid JSON"),
        ('{"expression": "1+1"', "Error: the arguments are not valid JSON"),
        ('"1+1"', "Error: the arguments must be a JSON object"),
        ("[1, 2]", "Error: the arguments must be a JSON object"),
        ("[" * 5000, "Error: the arguments are not valid JSON"),
        ("[" * 20_000, "Error: the arguments are too long"),
        ('{"expression": "1+' + "1+" * 300 + '1"}', "Error: expression too long"),
    ],
)
def test_tool_run(arguments: str | dict[str, object], answer: str) -> None:
    text = run_async(TOOLS["calculator"].run(arguments))
    assert isinstance(text, str)
    assert text.startswith(answer)
    if answer.startswith(
        ("Error: missing", "Error: the arguments are not", "Error: the arguments must")
    ):
        assert '{"expression": "..."}' in text  # shows the model what to send
