"""Run the code in the documentation, so the docs cannot drift from the code.

Every Markdown file under ``docs/`` and ``README.md`` is one test. Its fenced blocks run in
document order, in a fresh temporary folder that holds symlinks to the repository's
top-level entries (``policies/``, ``examples/``, ...): blocks can read the
repository's files, and whatever they write lands in the temporary folder.

Conventions for documentation authors:

- ```` ```python ```` runs in a fresh namespace; any exception, such as a failing
  ``assert``, fails the test. ```` ```python no-run ```` is shown, not run.
- A block with ``file=NAME`` after its language (```` ```yaml file=my-org.yaml ````,
  ```` ```json file=request.json ````) is written to ``NAME`` for later blocks to use,
  not run. Any other ```` ```yaml ```` block with a top-level ``usepolicy:`` key must
  load as a policy; mark an intentionally broken or partial one ```` ```yaml no-run ````.
- ```` ```console ````: each line starting with ``$ `` is a bash command (lines
  starting with ``> `` continue it); the lines up to the next command are its expected
  stdout and stderr, merged. A line that is only ``...`` stands for any number of
  lines, and ``...`` inside a line for any text (timestamps, ids). ``$ echo $?``
  prints the previous command's exit code. A console block with no output lines at
  all is a synopsis (its commands may name placeholder files) and is not run;
  ```` ```console no-run ```` is not run either.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

import usepolicy

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").rglob("*.md")) + [p for p in [ROOT / "README.md"] if p.exists()]

COMMAND_TIMEOUT = 120  # seconds per python block and per console command
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    lang: str
    options: tuple[str, ...]
    line: int  # 1-based line of the opening fence
    body: str

    @property
    def skipped(self) -> bool:
        return "no-run" in self.options

    def option(self, name: str) -> str | None:
        for opt in self.options:
            if opt.startswith(name + "="):
                return opt.split("=", 1)[1]
        return None


def parse_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        words = match["info"].split()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            line = lines[i]
            body.append(line[indent:] if line[:indent].strip() == "" else line)
            i += 1
        i += 1
        lang = words[0] if words else ""
        blocks.append(Block(lang, tuple(words[1:]), start + 1, "\n".join(body) + "\n"))
    return blocks


def run_python(block: Block, where: str) -> None:
    code = compile(block.body, where, "exec")
    namespace: dict[str, object] = {"__name__": "__main__"}
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        exec(code, namespace)  # pragma: no cover - no alarm here: run without a time limit
        return

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"the block did not finish in {COMMAND_TIMEOUT} seconds")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(COMMAND_TIMEOUT)
    try:
        exec(code, namespace)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_policy_yaml(block: Block, where: str, workdir: Path) -> None:
    try:
        usepolicy.loads_policy(block.body, path=where, base_dir=workdir)
    except usepolicy.PolicyError as exc:
        raise AssertionError(f"{where}: this policy does not load:\n{exc}") from None


@dataclass(frozen=True)
class Command:
    line: int
    command: str
    expected: list[str]


def parse_console(block: Block) -> list[Command]:
    commands: list[Command] = []
    for offset, raw in enumerate(block.body.splitlines(), start=1):
        line = raw.rstrip()
        if line.startswith("$ "):
            commands.append(Command(block.line + offset, line[2:], []))
        elif line.startswith("> ") and commands and not commands[-1].expected:
            last = commands[-1]
            commands[-1] = Command(last.line, last.command + "\n" + line[2:], [])
        elif commands:
            commands[-1].expected.append(line)
    return commands


def line_matches(pattern: str, line: str) -> bool:
    """Whether ``line`` matches ``pattern``, where ``...`` stands for any text.

    Linear time: the pieces between wildcards are found left to right (no regular
    expression, so no backtracking on long outputs).
    """
    if "..." not in pattern:
        return pattern == line
    first, *middle, last = pattern.split("...")
    if len(first) + len(last) > len(line) or not (line.startswith(first) and line.endswith(last)):
        return False
    pos, end = len(first), len(line) - len(last)
    for piece in middle:
        found = line.find(piece, pos, end)
        if found < 0:
            return False
        pos = found + len(piece)
    return True


def output_matches(expected: list[str], output: str) -> bool:
    """Whether ``output`` matches the expected lines; a line ``...`` matches any lines."""
    want = [line.rstrip() for line in expected]
    got = [line.rstrip() for line in output.splitlines()]
    while want and not want[-1]:
        want.pop()
    while got and not got[-1]:
        got.pop()
    # ok[i][j]: want[i:] matches got[j:]; filled from the end, O(len(want) * len(got))
    ok = [[False] * (len(got) + 1) for _ in range(len(want) + 1)]
    ok[len(want)][len(got)] = True
    for i in range(len(want) - 1, -1, -1):
        for j in range(len(got), -1, -1):
            if want[i].strip() == "...":
                ok[i][j] = ok[i + 1][j] or (j < len(got) and ok[i][j + 1])
            else:
                ok[i][j] = j < len(got) and line_matches(want[i], got[j]) and ok[i + 1][j + 1]
    return ok[0][0]


# `usepolicy` and `python` in console blocks are this interpreter, whatever is on PATH
_SHELL_PRELUDE = (
    'python() { "$DOCS_PYTHON" "$@"; }\n'
    'usepolicy() { "$DOCS_PYTHON" -c '
    "'import sys; from usepolicy.cli import main; sys.exit(main())' \"$@\"; }\n"
)


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["DOCS_PYTHON"] = sys.executable
    env["PYTHONUNBUFFERED"] = "1"  # stdout and stderr interleave in program order
    env["COLUMNS"] = "100"
    return env


def _run_shell(script: str, cwd: Path, env: dict[str, str]) -> tuple[int | None, str]:
    """(exit code, stdout+stderr) of a bash script; exit code None on timeout.

    The script runs in its own process group, so a timeout kills every process it
    started (killing bash alone would leave its children holding the output pipe).
    """
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, ""
    return proc.returncode, output


def run_console(block: Block, where: str, workdir: Path) -> None:
    if shutil.which("bash") is None:  # pragma: no cover - every supported CI has bash
        pytest.skip("console blocks need bash")
    status = 0
    env = _environment()
    for command in parse_console(block):
        status, output = _run_shell(
            f"{_SHELL_PRELUDE}(exit {status}); {command.command}", workdir, env
        )
        if status is None:
            raise AssertionError(
                f"{where.rsplit(':', 1)[0]}:{command.line}: `$ {command.command}` did not "
                f"finish in {COMMAND_TIMEOUT} seconds"
            )
        if not output_matches(command.expected, output):
            expected = "\n".join(command.expected).rstrip()
            raise AssertionError(
                f"{where.rsplit(':', 1)[0]}:{command.line}: `$ {command.command}` printed\n"
                f"{output.rstrip()}\n--- (exit {status}) but the docs show ---\n{expected}"
            )


def _workdir(tmp_path: Path) -> Path:
    for entry in ROOT.iterdir():
        if not entry.name.startswith("."):
            (tmp_path / entry.name).symlink_to(entry)
    return tmp_path


def run_document(doc: Path, workdir: Path) -> int:
    """Run every block of ``doc`` in ``workdir``; returns how many blocks ran."""
    name = doc.relative_to(ROOT).as_posix()
    ran = 0
    for block in parse_blocks(doc.read_text(encoding="utf-8")):
        where = f"{name}:{block.line}"
        if block.skipped:
            continue
        if block.option("file"):
            target = workdir / str(block.option("file"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body, encoding="utf-8")
        elif block.lang == "python":
            try:
                run_python(block, where)
            except Exception as exc:
                detail = "".join(traceback.format_exception(exc))
                raise AssertionError(f"{where}: python block failed:\n{detail}") from None
        elif block.lang == "yaml" and re.search(r"^usepolicy:", block.body, re.MULTILINE):
            check_policy_yaml(block, where, workdir)
        elif block.lang == "console" and any(
            line.strip() for c in parse_console(block) for line in c.expected
        ):
            run_console(block, where, workdir)
        else:
            continue
        ran += 1
    return ran


@pytest.mark.parametrize("doc", DOCS, ids=[d.relative_to(ROOT).as_posix() for d in DOCS])
def test_document_blocks_run(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workdir = _workdir(tmp_path)
    monkeypatch.chdir(workdir)
    run_document(doc, workdir)


def test_the_docs_have_executable_blocks() -> None:
    names = {doc.name for doc in DOCS}
    for wanted in ("guide.md", "policy-language.md", "requests.md", "records.md", "cli.md"):
        assert wanted in names
    python = [
        block
        for doc in DOCS
        for block in parse_blocks(doc.read_text(encoding="utf-8"))
        if block.lang == "python" and not block.skipped
    ]
    assert len(python) >= 10


# -- the harness itself can fail ------------------------------------------------------


def test_a_failing_python_block_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("text\n\n```python\nx = 1\n```\n\n```python\nassert x == 1\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(AssertionError, match=r"doc\.md:7: python block failed"):
        run_document(doc, tmp_path)  # each block has a fresh namespace: x is undefined
    doc.write_text("```python\nassert 1 + 1 == 3, 'wrong'\n```\n```python no-run\nboom\n```\n")
    with pytest.raises(AssertionError, match="wrong"):
        run_document(doc, tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "COMMAND_TIMEOUT", 1)
    doc.write_text("```python\nimport time\ntime.sleep(30)\n```\n")
    with pytest.raises(AssertionError, match="did not finish in 1 seconds"):
        run_document(doc, tmp_path)


def test_a_wrong_console_output_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "doc.md"
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    doc.write_text("```console\n$ echo hello; exit 3\nhello\n$ echo $?\n3\n```\n")
    assert run_document(doc, tmp_path) == 1
    doc.write_text("```console\n$ echo hello\ngoodbye\n```\n")
    with pytest.raises(AssertionError, match="goodbye"):
        run_document(doc, tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "COMMAND_TIMEOUT", 1)
    doc.write_text("```console\n$ (sleep 30; echo late) & wait\nlate\n```\n")
    with pytest.raises(AssertionError, match="did not finish in 1 seconds"):
        run_document(doc, tmp_path)


def test_a_broken_policy_block_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "doc.md"
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    doc.write_text("```yaml\nusepolicy: 1\nname: x\nrules: 3\n```\n")
    with pytest.raises(AssertionError, match="wrong-type"):
        run_document(doc, tmp_path)
    doc.write_text("```yaml file=p.yaml\nusepolicy: 1\nname: x\nrules: 3\n```\n")
    assert run_document(doc, tmp_path) == 1
    assert (tmp_path / "p.yaml").exists()


def test_ellipsis_patterns() -> None:
    expected = ["a ... z", "...", "end"]
    assert output_matches(expected, "a 123 z\nend\n")
    assert output_matches(expected, "a - z\nx\ny\nend\n\n")
    assert not output_matches(expected, "a - z\nend\nmore\n")
    assert not output_matches(expected, "b - z\nend\n")
    assert not output_matches(["a...a"], "a")  # the two pieces may not overlap
    assert output_matches(["x...y...z"], "x-y-y-z")
    assert not output_matches(["x...y...z"], "x-z-y")
    # no backtracking blow-up on long output that does not match
    many = ["... " * 20, "...", "... " * 20, "...", "never"]
    assert not output_matches(many, "word " * 50 + "\n" * 3000)


def test_fences_are_parsed_with_their_options() -> None:
    text = "# t\n\n```python no-run\nx\n```\n\n  ```yaml file=a.yaml\n  k: v\n  ```\n"
    blocks = parse_blocks(text)
    assert [(b.lang, b.options, b.line, b.body) for b in blocks] == [
        ("python", ("no-run",), 3, "x\n"),
        ("yaml", ("file=a.yaml",), 7, "k: v\n"),
    ]
    assert blocks[0].skipped
    assert blocks[1].option("file") == "a.yaml"
