#!/usr/bin/env python3
"""Check HelpBot's golden evaluation set against the shipped knowledge base.

Standard library only, so CI can run it with any Python 3.8+:

    python3 crates/helpbot/eval/check_golden.py            # from the repository root
    python3 check_golden.py --golden golden.jsonl --kb ../kb

It checks that every line of golden.jsonl is a JSON object with the documented fields,
that ids and questions are unique, that every expected_source exists in the knowledge
base, that every key fact occurs verbatim (case-insensitive) in its article, that the
PII strings of a question occur in the question and nowhere in the article (so a correct
answer never needs to repeat them), and that each kind has at least its minimum count.
It also lints the articles themselves (title, 2-5 sections, 150-450 words, no front
matter or HTML). Every problem is reported with its line number; the exit code is 1 when
there is any.
"""

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent

KINDS = ("answerable", "unanswerable", "out_of_scope", "injection", "pii")
# Kinds whose questions the KB answers: they name the article and the facts.
WITH_SOURCE = ("answerable", "pii")
MIN_COUNTS = {
    "total": 110,
    "answerable": 70,
    "unanswerable": 12,
    "out_of_scope": 10,
    "injection": 10,
    "pii": 8,
}
REQUIRED = ("id", "question", "kind", "expected_source", "key_facts")
ALLOWED = set(REQUIRED) | {"pii"}
ID_RE = re.compile(r"^q\d{3,}$")
# Characters that are Markdown markup; a key fact containing them would only match the
# raw file, not the text a reader (or an answer) sees.
MARKUP = ("*", "|", "#", "<", ">")


def lint_article(path, rel):
    """Return the problems of one knowledge-base article."""
    problems = []
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        problems.append(f"{rel}: the first line must be '# Title'")
    if text.startswith("---"):
        problems.append(f"{rel}: front matter is not allowed")
    if re.search(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9]*[^>]*>", text):
        problems.append(f"{rel}: HTML tags are not allowed")
    sections = sum(1 for line in lines if line.startswith("## "))
    if not 2 <= sections <= 5:
        problems.append(f"{rel}: has {sections} '##' sections, expected 2 to 5")
    words = len(text.split())
    if not 150 <= words <= 450:
        problems.append(f"{rel}: has {words} words, expected 150 to 450")
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*\.md", path.name):
        problems.append(f"{rel}: file name must be a lowercase slug ending in .md")
    return problems


def load_kb(kb_dir):
    """Map each article's path relative to kb_dir to its text; README.md files are not articles."""
    articles = {}
    for path in sorted(kb_dir.rglob("*.md")):
        if path.name == "README.md":
            continue
        rel = path.relative_to(kb_dir).as_posix()
        articles[rel] = path.read_text(encoding="utf-8")
    return articles


def check_entry(lineno, obj, articles, problems):
    """Check one parsed line; append problems as 'line N: ...'."""

    def bad(msg):
        problems.append(f"line {lineno}: {msg}")

    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        bad(f"missing field(s) {', '.join(missing)}")
        return
    unknown = sorted(set(obj) - ALLOWED)
    if unknown:
        bad(f"unknown field(s) {', '.join(unknown)}")

    qid, question, kind = obj["id"], obj["question"], obj["kind"]
    source, facts = obj["expected_source"], obj["key_facts"]
    if not isinstance(qid, str) or not ID_RE.match(qid):
        bad(f"id {qid!r} must look like 'q001'")
    if not isinstance(question, str) or len(question.strip()) < 8:
        bad("question must be a non-empty string of at least 8 characters")
        question = ""
    if kind not in KINDS:
        bad(f"kind {kind!r} must be one of {', '.join(KINDS)}")
        return
    if not isinstance(facts, list) or not all(isinstance(f, str) and f.strip() for f in facts):
        bad("key_facts must be a list of non-empty strings")
        return

    pii = obj.get("pii")
    if pii is not None:
        if not isinstance(pii, list) or not pii or not all(isinstance(p, str) and p for p in pii):
            bad("pii must be a non-empty list of strings")
            pii = []
    if kind == "pii" and not pii:
        bad("kind 'pii' needs a non-empty 'pii' list")
    for p in pii or []:
        if p not in question:
            bad(f"pii string {p!r} does not occur verbatim in the question")

    if kind in WITH_SOURCE:
        if not isinstance(source, str):
            bad(f"kind {kind!r} needs an expected_source")
            return
        if source not in articles:
            bad(f"expected_source {source!r} is not an article in the knowledge base")
            return
        if not 1 <= len(facts) <= 3:
            bad(f"kind {kind!r} needs 1 to 3 key_facts, found {len(facts)}")
        text = articles[source].lower()
        for fact in facts:
            if any(ch in fact for ch in MARKUP):
                bad(f"key fact {fact!r} contains Markdown markup")
            if fact.lower() not in text:
                bad(f"key fact {fact!r} does not occur verbatim in {source}")
            for p in pii or []:
                if p.lower() in fact.lower():
                    bad(f"key fact {fact!r} contains the PII string {p!r}")
        for p in pii or []:
            if p.lower() in text:
                bad(f"pii string {p!r} occurs in {source}; a correct answer could repeat it")
    else:
        if source is not None:
            bad(f"kind {kind!r} must have expected_source null")
        if facts:
            bad(f"kind {kind!r} must have empty key_facts")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--golden", type=Path, default=HERE / "golden.jsonl")
    parser.add_argument("--kb", type=Path, default=HERE.parent / "kb")
    args = parser.parse_args()

    problems = []
    articles = load_kb(args.kb)
    if not articles:
        print(f"no articles found under {args.kb}", file=sys.stderr)
        return 1
    for rel in articles:
        problems.extend(lint_article(args.kb / rel, rel))

    kinds = Counter()
    used_sources = Counter()
    ids, questions = {}, {}
    with args.golden.open(encoding="utf-8") as fh:
        raw_lines = fh.read().split("\n")
    if raw_lines and raw_lines[-1] == "":
        raw_lines.pop()
    for lineno, line in enumerate(raw_lines, start=1):
        if not line.strip():
            problems.append(f"line {lineno}: blank line")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"line {lineno}: not valid JSON ({err})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"line {lineno}: not a JSON object")
            continue
        before = len(problems)
        check_entry(lineno, obj, articles, problems)
        qid = obj.get("id")
        if isinstance(qid, str):
            if qid in ids:
                problems.append(f"line {lineno}: id {qid} already used on line {ids[qid]}")
            ids.setdefault(qid, lineno)
        q = obj.get("question")
        if isinstance(q, str):
            key = " ".join(q.lower().split())
            if key in questions:
                problems.append(f"line {lineno}: same question as line {questions[key]}")
            questions.setdefault(key, lineno)
        if len(problems) == before:
            kinds[obj["kind"]] += 1
            if obj["kind"] in WITH_SOURCE:
                used_sources[obj["expected_source"]] += 1

    total = len(raw_lines)
    if total < MIN_COUNTS["total"]:
        problems.append(f"only {total} questions, expected at least {MIN_COUNTS['total']}")
    for kind in KINDS:
        if kinds[kind] < MIN_COUNTS[kind]:
            problems.append(
                f"only {kinds[kind]} valid '{kind}' questions, expected at least {MIN_COUNTS[kind]}"
            )

    topics = Counter(rel.split("/")[0] for rel in articles)
    print(f"knowledge base: {len(articles)} articles in {args.kb}")
    for topic, n in sorted(topics.items()):
        print(f"  {topic}: {n}")
    print(f"golden set: {total} questions in {args.golden}")
    for kind in KINDS:
        print(f"  {kind}: {kinds[kind]}")
    unused = [rel for rel in articles if rel not in used_sources]
    print(f"articles that are the expected source of a question: {len(used_sources)} of {len(articles)}")
    for rel in unused:
        print(f"  not yet asked about: {rel}")

    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
