"""Regenerates the README's generated tables (checks, flaws) from the catalogues."""

from __future__ import annotations

import re
import tomllib

from target_app.flaws import CATALOGUE
from tools.audit_run import REPO


def checks_table() -> str:
    catalogue = tomllib.loads((REPO / "probes" / "catalogue.toml").read_text())
    lines = [
        "| check_id | severity | CWE | OWASP | probe | a finding means |",
        "|---|---|---|---|---|---|",
    ]
    for check_id, meta in catalogue.items():
        probe = meta["probe"]
        lines.append(
            f"| `{check_id}` | {meta['severity']} | {meta['cwe']} | {meta['owasp']} | "
            f"[`{probe.split('/')[-1]}`]({probe}) | {meta['title']} |"
        )
    return "\n".join(lines)


def flaws_table() -> str:
    lines = [
        "| flaw | category | the mistake it reproduces | must be reported by |",
        "|---|---|---|---|",
    ]
    for flaw in CATALOGUE.values():
        name = f"`{flaw.name}=N`" if flaw.takes_value else f"`{flaw.name}`"
        if flaw.requires_algorithm:
            name += f" ({flaw.requires_algorithm})"
        elif flaw.per_process:
            name += " (workers > 1)"
        lines.append(
            f"| {name} | {flaw.category} | {flaw.description} | {', '.join(flaw.detected_by)} |"
        )
    return "\n".join(lines)


def replace(text: str, name: str, table: str) -> str:
    pattern = re.compile(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", re.DOTALL)
    return pattern.sub(f"<!-- {name}:start -->\n{table}\n<!-- {name}:end -->", text)


def main() -> None:
    path = REPO / "README.md"
    text = replace(path.read_text(), "checks", checks_table())
    text = replace(text, "flaws", flaws_table())
    path.write_text(text)


if __name__ == "__main__":
    main()
