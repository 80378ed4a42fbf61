"""Replay every test case of every shared agent on the emulator runtime and explain each failure.

Run: ``.venv/bin/python bench/test_case_pass_rate.py [--agents DIR] [--speed N]``

For each agent: passes, and per failing test case its first difference with a classification backed
by evidence from the package:

- stale expectation (recording date): the turn differs only in dates, and replaying the test with the
  reference date set to the day before its earliest recorded date makes the turn match;
- stale expectation (not in agent): the expected text, page, intent or flow exists nowhere in the package,
  the expected text shows a parameter reference (``$session.params.x`` left unresolved) that no
  fulfillment in the package contains, or a parameter the recording shows could not have that value:
  the value is not an entry of the parameter's entity type, or none of the entry's synonyms shares a
  word with what the user said when the value appeared;
- ambiguous agent data: the user's words are a training phrase of both the expected and the actual intent;
- needs webhook: the turn called a webhook (unreachable here) and the expected output has values only
  a webhook response could supply (our text still shows an unresolved reference), or a route depends on it;
- runtime gap: none of the above; the emulator behaves differently from what CX recorded.

Webhooks are called through a caller that fails at once (this machine has no network), as CX does
for an unreachable URL. The speed figure replays the agents' test cases repeatedly (N cases of at
least 5 turns) on one prebuilt engine per agent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from airflow_provider_cx.emulator.runtime import Engine, run_test_case, unreachable_webhook_caller  # noqa: E402
from airflow_provider_cx.emulator.runtime.text import normalised  # noqa: E402
from airflow_provider_cx.package import AgentPackage, read_package  # noqa: E402

_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_REF = re.compile(r"\$\$?(?:sys\.func\.[A-Z_]+\([^)]*\)|[a-z]+(?:\.[A-Za-z0-9_\-]+)+)")


@dataclass
class Verdict:
    test: str
    passed: bool
    needs_webhook: bool = False
    turn: int = -1
    difference: str = ""
    kind: str = ""
    evidence: str = ""


def squash(text: str) -> str:
    return " ".join(text.split())


def package_texts(package: AgentPackage) -> list[re.Pattern[str]]:
    """Every text variant any fulfillment can send, as a pattern where parameter references match anything."""
    found = set(package_texts_raw(package))
    patterns = []
    for text in found:
        pieces = _REF.split(squash(text))
        patterns.append(re.compile("^" + ".*".join(re.escape(p) for p in pieces) + "$", re.S))
    return patterns


def unresolved_reference(package: AgentPackage, want: list[str]) -> str:
    """Evidence that a recorded text came from another fulfillment: it shows a reference none has."""
    texts = package_texts_raw(package)
    for text in want:
        for ref in _REF.findall(text):
            if not any(ref in t for t in texts):
                return f"the recorded text shows {ref} unresolved, and no fulfillment in the package refers to it"
    return ""


def unreachable_value(package: AgentPackage, test: dict[str, Any], index: int, output: dict[str, Any]) -> str:
    """Evidence that a recorded parameter value cannot come from the package's entity types."""
    turns = test["testCaseConversationTurns"]
    expected = (turns[index].get("virtualAgentOutput") or {}).get("sessionParameters") or {}
    got = output.get("sessionParameters") or {}
    for name, value in expected.items():
        if not isinstance(value, str) or value == got.get(name):
            continue
        entity = entity_type_of(package, name)
        if entity is None or entity.data.get("kind") == "KIND_REGEXP":
            continue
        entries = {str(e.get("value")): e for e in package.entities(entity)}
        if any(str(e.get("value", "")).startswith("@") for e in entries.values()):
            continue  # composite: values come from other types
        if value not in entries:
            return f"{name}={value!r} is not an entry of @{entity.display_name}"
        said = said_when(turns, index, name, value)
        synonyms = entries[value].get("synonyms") or [value]
        heard = set(normalised(said).split())
        if said and not any(heard & set(normalised(syn).split()) for syn in synonyms):
            return (
                f"{name}={value!r} after the user said {said!r}, but no synonym of that entry "
                f"({', '.join(repr(x) for x in synonyms[:4])}) shares a word with it"
            )
    return ""


def entity_type_of(package: AgentPackage, name: str) -> Any:
    """The custom entity type of a form parameter or intent parameter called ``name``, if one."""
    folded = name.casefold()
    types = []
    for flow in package.flows:
        for page in flow.pages:
            for param in (page.data.get("form") or {}).get("parameters", []):
                if str(param.get("displayName", "")).strip().casefold() == folded:
                    types.append(str(param.get("entityType", "")))
    for intent in package.intents:
        for param in intent.data.get("parameters", []):
            if str(param.get("id", "")).casefold() == folded:
                types.append(str(param.get("entityType", "")))
    custom = {t.lstrip("@") for t in types if t and not t.startswith("@sys.")}
    if len(custom) != 1:
        return None
    return package.entity_type(custom.pop())


def said_when(turns: list[dict[str, Any]], index: int, name: str, value: str) -> str:
    """What the user said on the turn where the recording first shows ``name = value``."""
    for turn in turns[: index + 1]:
        params = (turn.get("virtualAgentOutput") or {}).get("sessionParameters") or {}
        if params.get(name) == value:
            return str((((turn.get("userInput") or {}).get("input") or {}).get("text") or {}).get("text", ""))
    return ""


def package_texts_raw(package: AgentPackage) -> list[str]:
    """Every text variant any fulfillment of the package can send, as written (with its references)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            text = node.get("text")
            if isinstance(text, dict) and isinstance(text.get("text"), list):
                found.extend(str(t) for t in text["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for flow in package.flows:
        walk(flow.data)
        for res in (*flow.pages, *flow.route_groups):
            walk(res.data)
    for group in package.route_groups:
        walk(group.data)
    return found


def earliest_date(test: dict[str, Any]) -> dt.date | None:
    dates = []
    for turn in test.get("testCaseConversationTurns", []):
        for value in ((turn.get("virtualAgentOutput") or {}).get("sessionParameters") or {}).values():
            if isinstance(value, dict) and {"year", "month", "day"} <= value.keys():
                dates.append(dt.date(int(value["year"]), int(value["month"]), int(value["day"])))
    return min(dates) if dates else None


def first_failure(result: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]] | None:
    for i, turn in enumerate(result["conversationTurns"]):
        diffs = turn["virtualAgentOutput"].get("differences")
        if diffs:
            return i, turn, diffs[0]
    return None


def classify(package: AgentPackage, engine: Engine, test: dict[str, Any], result: dict[str, Any]) -> Verdict:
    verdict = Verdict(test.get("displayName", ""), result["testResult"] == "PASSED")
    calls = [t["virtualAgentOutput"]["diagnosticInfo"].get("Webhook Calls", 0) for t in result["conversationTurns"]]
    failure = first_failure(result)
    if failure is None:
        return verdict
    index, turn, diff = failure
    verdict.turn, verdict.difference = index, f"{diff['type']}: {diff['description']}"
    expected = test["testCaseConversationTurns"][index]["virtualAgentOutput"]
    output = turn["virtualAgentOutput"]
    called = any(calls[: index + 1])
    kind, evidence = _explain(package, test, diff, expected, output, index, called)
    verdict.kind, verdict.evidence = kind, evidence
    verdict.needs_webhook = kind == "needs webhook"
    return verdict


def _explain(
    package: AgentPackage,
    test: dict[str, Any],
    diff: dict[str, str],
    expected: dict[str, Any],
    output: dict[str, Any],
    index: int,
    called: bool,
) -> tuple[str, str]:
    kind = diff["type"]
    if kind in ("UTTERANCE", "PAGE", "FLOW"):
        want = [squash(" ".join(r.get("text", []))) for r in expected.get("textResponses", [])]
        stale = unresolved_reference(package, want) or unreachable_value(package, test, index, output)
        if stale:
            return "stale expectation (not in agent)", stale
    if kind == "UTTERANCE":
        got = [squash(" ".join(r.get("text", []))) for r in output.get("textResponses", [])]
        if [_DATE.sub("<date>", w) for w in want] == [_DATE.sub("<date>", g) for g in got] and want != got:
            day = earliest_date(test)
            if day is not None:
                replay = run_test_case(
                    Engine(package, today=day - dt.timedelta(days=1)), test, webhook_caller=unreachable_webhook_caller
                )
                turn_diffs = replay["conversationTurns"][index]["virtualAgentOutput"].get("differences")
                if not turn_diffs:
                    return (
                        "stale expectation (recording date)",
                        f"only dates differ; replayed with reference date {day - dt.timedelta(days=1)} it matches",
                    )
            return "stale expectation (recording date)", "only dates differ (relative dates resolve to the run day)"
        patterns = package_texts(package)
        missing = [w for w in want if not any(p.match(w) for p in patterns)]
        if missing:
            return "stale expectation (not in agent)", f"no fulfillment in the package can say {missing[0][:90]!r}"
        if called and any("$session.params." in g for g in got):
            return "needs webhook", "a webhook was called (unreachable here) and our text keeps an unset parameter"
        return "runtime gap", (
            f"the expected texts exist in the package but this path did not send them ({_how(expected, output)})"
        )
    if kind in ("PAGE", "FLOW"):
        page = expected.get("currentPage") or {}
        name = str(page.get("name", "")).strip()
        flow = str(page.get("flow") or (expected.get("currentFlow") or {}).get("name") or "").strip()
        owner = package.flow(flow) if flow else None
        if flow and owner is None:
            return "stale expectation (not in agent)", f"flow {flow!r} does not exist"
        special = ("Start Page", "End Session", "End Flow")
        if name and name not in special and owner is not None and owner.page(name) is None:
            return "stale expectation (not in agent)", f"page {name!r} does not exist in flow {flow!r}"
        if called:
            return "needs webhook", "a webhook was called (unreachable here) before the page differed"
        return "runtime gap", f"the expected page exists; the emulator took another route ({_how(expected, output)})"
    if kind == "INTENT":
        name = str((expected.get("triggeredIntent") or {}).get("name", "")).strip()
        intent = package.intent(name)
        if intent is None:
            return "stale expectation (not in agent)", f"intent {name!r} does not exist"
        said = normalised(
            str(
                ((test["testCaseConversationTurns"][index].get("userInput") or {}).get("input") or {})
                .get("text", {})
                .get("text", "")
            )
        )
        owners = [
            i.display_name.strip()
            for i in package.intents
            if any(
                normalised("".join(p.get("text", "") for p in tp.get("parts", []))) == said
                for tp in package.training_phrases(i)
            )
        ]
        if len(owners) > 1:
            return "ambiguous agent data", f"{said!r} is a training phrase of {', '.join(owners)}"
        return (
            "runtime gap",
            f"intent {name!r} exists; the emulator's similarity chose otherwise ({_how(expected, output)})",
        )
    return "runtime gap", "parameters differ"


def _how(expected: dict[str, Any], output: dict[str, Any]) -> str:
    """What the emulator matched on the turn, beside what the recording says CX matched."""
    want = (expected.get("triggeredIntent") or {}).get("name") or "no intent"
    got = (output.get("triggeredIntent") or {}).get("name") or "no intent"
    info = output.get("diagnosticInfo") or {}
    return f"recorded {want}; emulator {info.get('Match Type', '?')} {got}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=Path, default=REPO.parent / "shared" / "agents")
    parser.add_argument("--speed", type=int, default=1000, help="test cases to replay for the speed figure")
    args = parser.parse_args()
    totals = {"all": 0, "passed": 0, "no_webhook": 0, "no_webhook_passed": 0, "stale": 0}
    engines: list[tuple[Engine, list[dict[str, Any]]]] = []
    for path in sorted(p for p in args.agents.iterdir() if p.is_dir() or p.suffix == ".zip"):
        package = read_package(path)
        if not package.test_cases:
            continue
        engine = Engine(package)
        tests = [t.data for t in package.test_cases]
        engines.append((engine, tests))
        verdicts = [
            classify(package, engine, t, run_test_case(engine, t, webhook_caller=unreachable_webhook_caller))
            for t in tests
        ]
        passed = sum(v.passed for v in verdicts)
        no_webhook = [v for v in verdicts if not v.needs_webhook]
        print(
            f"\n== {package.display_name or path.name}: {passed}/{len(verdicts)} passed "
            f"({sum(v.passed for v in no_webhook)}/{len(no_webhook)} of those needing no webhook)"
        )
        for v in verdicts:
            if v.passed:
                print(f"  PASS  {v.test}")
            else:
                print(f"  FAIL  {v.test} — turn {v.turn + 1}: {v.difference[:200]}")
                print(f"        {v.kind}: {v.evidence}")
        totals["all"] += len(verdicts)
        totals["passed"] += passed
        totals["no_webhook"] += len(no_webhook)
        totals["no_webhook_passed"] += sum(v.passed for v in no_webhook)
        totals["stale"] += sum(v.kind.startswith("stale") for v in verdicts)
    print(
        f"\nTOTAL: {totals['passed']}/{totals['all']} passed; {totals['no_webhook_passed']}/{totals['no_webhook']} "
        f"of the test cases needing no webhook; {totals['stale']} failures are stale expectations"
    )
    judged = totals["no_webhook"] - totals["stale"]
    if judged:
        print(
            f"Pass rate of test cases needing no webhook and not stale: {totals['no_webhook_passed']}/{judged} "
            f"= {100 * totals['no_webhook_passed'] / judged:.0f}%"
        )
    speed(engines, args.speed)
    return 0


def speed(engines: list[tuple[Engine, list[dict[str, Any]]]], count: int) -> None:
    """Replay ``count`` test cases (cycling through the agents' cases, each cut or padded to 5 turns)."""
    cases = []
    for engine, tests in engines:
        for test in tests:
            turns = test.get("testCaseConversationTurns", [])
            if len(turns) >= 5:
                cases.append((engine, {**test, "testCaseConversationTurns": turns[:5]}))
    if not cases:
        return
    print()
    for cold in (False, True):
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(count):
            engine, test = cases[i % len(cases)]
            if cold:
                engine.index.clear_caches()
            run_test_case(engine, test, webhook_caller=unreachable_webhook_caller)
        elapsed, used = time.perf_counter() - start, time.process_time() - cpu
        how = (
            "caches cleared before every test case (each conversation computed afresh)"
            if cold
            else f"warm: {len(cases)} distinct conversations repeat, remembered matches are reused"
        )
        print(
            f"SPEED: {count} test cases x 5 turns in {elapsed:.2f} s wall, {used:.2f} s CPU "
            f"({count * 5 / elapsed:.0f} turns/s) — {how}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
