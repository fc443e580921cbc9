"""``audit.html``: one self-contained page (inline CSS, inline SVG, one inline script, no fetches).

The page carries a Content-Security-Policy that allows no network resource at all, so anything
that would be fetched is blocked by the browser instead (and shows as a console error, which the
browser test looks for).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from probes.reporting import model
from probes.reporting.plots import all_plots

TEMPLATE = "audit.html.j2"
DATA_LIMIT = 6000
# The page's only script: copy buttons for the curl reproductions, and expand/collapse all.
SCRIPT = """
function copyText(text) {
  var area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  var copied = false;
  try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
  area.remove();
  return copied;
}
document.querySelectorAll("button.copy").forEach(function (button) {
  button.addEventListener("click", function () {
    var text = document.getElementById(button.dataset.target).textContent;
    var show = function (copied) {
      button.textContent = copied ? "Copied" : "Select the text to copy";
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { show(true); },
        function () { show(copyText(text)); }
      );
    } else {
      show(copyText(text));
    }
  });
});
document.querySelectorAll("button.toggle-all").forEach(function (button) {
  button.addEventListener("click", function () {
    var open = button.dataset.open !== "true";
    document.querySelectorAll("details.evidence").forEach(function (d) { d.open = open; });
    button.dataset.open = open ? "true" : "false";
    button.textContent = open ? "Collapse all evidence" : "Expand all evidence";
  });
});
"""
_CODE = re.compile(r"`([^`]+)`")


def _code(text: str | None) -> Markup:
    """Escape, then show `backticked` spans as code (the catalogue's remediation text uses them)."""
    escaped = str(escape(text or ""))
    return Markup(_CODE.sub(lambda m: f"<code>{m.group(1)}</code>", escaped))  # noqa: S704


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _when(stamp: str | None) -> str:
    if not stamp:
        return ""
    try:
        return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return stamp


def _data_json(data: dict[str, Any] | None) -> str:
    if not data:
        return ""
    text = json.dumps(data, indent=1, default=str)
    return text if len(text) <= DATA_LIMIT else text[:DATA_LIMIT] + "\n…(truncated; see audit.json)"


def request_text(exchange: dict[str, Any]) -> str:
    """A redacted request as it would go over the wire (headers, blank line, body)."""
    lines = [f"{exchange.get('method', '')} {exchange.get('url', '')}"]
    lines += [f"{k}: {v}" for k, v in (exchange.get("request_headers") or {}).items()]
    if exchange.get("request_body"):
        lines += ["", str(exchange["request_body"])]
    return "\n".join(lines)


def response_text(exchange: dict[str, Any]) -> str:
    """The redacted response (or the transport error), with the time it took."""
    first = (
        f"no response: {exchange['error']}"
        if exchange.get("error")
        else f"HTTP {exchange.get('status', '?')}"
    )
    if exchange.get("elapsed_ms") is not None:
        first += f"  ({float(exchange['elapsed_ms']):.1f} ms)"
    lines = [first]
    lines += [f"{k}: {v}" for k, v in (exchange.get("response_headers") or {}).items()]
    if exchange.get("response_body"):
        lines += ["", str(exchange["response_body"])]
    return "\n".join(lines)


def script_hash() -> str:
    digest = hashlib.sha256(SCRIPT.encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("probes", "reporting/templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        code=_code,
        duration=_duration,
        when=_when,
        data_json=_data_json,
        cwe_url=model.cwe_url,
        owasp_url=model.owasp_url,
        owasp_name=model.owasp_name,
        family=model.family,
        request_text=request_text,
        response_text=response_text,
    )
    return env


def render_html(document: dict[str, Any]) -> str:
    results = document["results"]
    failed, why = model.gate(document)
    counts = model.verdict_counts(document)
    total = sum(counts.values())
    coverage = model.coverage(document)
    context = {
        "doc": document,
        "target": document.get("target") or {},
        "findings": model.findings(document),
        "verdict_counts": counts,
        "total": total,
        "severity_counts": model.severity_counts(document),
        "gate_failed": failed,
        "gate_why": why,
        "plots": all_plots(results),
        "coverage": coverage,
        "not_run": sum(1 for row in coverage if row["verdict"] == model.NOT_RUN),
        "script": Markup(SCRIPT),  # noqa: S704 - a constant of this module
        "script_hash": script_hash(),
    }
    return environment().get_template(TEMPLATE).render(**context)
