"""`rightsdesk --help` as a new operator reads it (issue 21.11): one line per command (no
sentence broken across lines), the commands in the order one uses them, and no `<bool>`
placeholders on flags."""

from __future__ import annotations

import re

from tests.support import rightsdesk, rightsdesk_process

ORDER = [
    "serve",
    "migrate",
    "worker",
    "create-user",
    "users",
    "clients",
    "purge",
    "scrub",
    "openapi",
]


def _help(*args: str, process: bool = False) -> str:
    # The command list as the installed command prints it; the flags' help in this process.
    done = (rightsdesk_process if process else rightsdesk)({"COLUMNS": "100"}, *args, "--help")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_command_list_is_one_line_each_in_order():
    text = _help(process=True)
    listed = text.split("Commands")[1]
    rows = [line for line in listed.splitlines()[1:] if line.strip(" │╰─╯")]
    names = []
    for row in rows:
        cells = row.strip(" │").split(None, 1)
        # Every row names a command: no row is the tail of the previous one's sentence.
        assert re.fullmatch(r"[a-z][a-z-]*", cells[0]), row
        names.append(cells[0])
    assert [n for n in names if n in ORDER] == ORDER, names


def test_no_bool_placeholders_on_flags():
    for args in ((), ("worker",), ("serve",), ("purge",), ("users", "list"), ("keys", "rotate")):
        text = _help(*args)
        assert "<bool>" not in text, (args, text)
