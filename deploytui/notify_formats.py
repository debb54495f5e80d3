"""The body each chat service documents, built from one flat message (notify.py).

- slack:   incoming webhook, `text` (notification fallback) + Block Kit `blocks`
           https://api.slack.com/messaging/webhooks, https://api.slack.com/reference/block-kit/blocks
- teams:   a Workflows "post to a channel when a webhook request is received" URL (or a
           legacy Incoming Webhook), a `message` with one Adaptive Card attachment
           https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook
           (MessageCard belongs to the retired Office 365 connectors, so it is not used)
- discord: execute-webhook `content` + one embed, mentions disabled (a commit subject
           saying @everyone must not page the server)
           https://discord.com/developers/docs/resources/webhook#execute-webhook
- json:    the flat message itself (docs/notifications.md)

Every service caps lengths; texts are cut below the documented limits.
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]

SUBJECT_MAX = 120
COLORS = {"success": "2EB67D", "rollback": "ECB22E", "start": "439FE0", "failure": "E01E5A"}
TEAMS_COLORS = {"success": "Good", "rollback": "Warning", "start": "Accent",
                "failure": "Attention"}


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def facts(m: Message) -> list[tuple[str, str]]:
    """(title, value) pairs shown by every chat format, empty ones left out."""
    pairs = (
        ("Project", f"{m['project']}/{m['environment']}"),
        ("Ref", m["ref"]), ("Commit", m["sha"][:12]),
        ("Release", m["release"]), ("By", m["user"]),
        ("Duration", f"{m['duration']:.0f}s" if m["duration"] else ""),
        ("Failed host", m["failed_host"]), ("Failed step", m["failed_step"]),
        ("Left out (behind)", ", ".join(m["excluded"])),
    )
    return [(k, str(v)) for k, v in pairs if v]


def changes_heading(m: Message) -> str:
    """One line saying what the commit list is (or why there is none); "" for none."""
    c = m.get("changes")
    if not c:
        return ""
    old = (c["from"] or "")[:8]
    n = c["total"]
    plural = "commit" if n == 1 else "commits"
    if c["direction"] == "unknown":
        if not old:
            return "previous release unknown (first deploy?): commits not listed"
        return f"previous release {old} is not in the repository: commits not listed"
    if c["direction"] == "same":
        return f"same commit as the release it replaces ({old})"
    if c["direction"] == "back":
        return f"takes back {n} {plural}: {c['to'][:8]} is older than the release {old}"
    if c["direction"] == "diverged":
        return f"{n} {plural} since {old} (history diverged from it)"
    return f"{n} {plural} since {old}"


def commit_lines(m: Message, code: str = "`", bullet: str = "•") -> list[str]:
    """`• abc1234 subject — author` lines, newest first, and "… and N more"."""
    c = m.get("changes") or {}
    lines = [f"{bullet} {code}{x['sha']}{code} {cut(x['subject'], SUBJECT_MAX)} — {x['author']}"
             for x in c.get("commits", [])]
    if c.get("more"):
        lines.append(f"… and {c['more']} more")
    return lines


# -- Slack ---------------------------------------------------------------------------------

def _slack_escape(text: str) -> str:
    """Slack's mrkdwn control characters: &, < and > (its documented escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(m: Message, text: str) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(_slack_escape(text), 3000)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": cut(
            f"*{k}*\n{_slack_escape(v)}", 2000)} for k, v in facts(m)][:10]},
    ]
    heading = changes_heading(m)
    if heading:
        body = "\n".join([f"*{_slack_escape(heading)}*",
                          *(_slack_escape(line) for line in commit_lines(m))])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut(body, 3000)}})
    url = (m.get("changes") or {}).get("compare_url")
    if url:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<{url}|Compare on the web>"}]})
    return {"text": cut(text, 3000), "blocks": blocks}


# -- Microsoft Teams -------------------------------------------------------------------

def teams(m: Message, text: str) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": text, "wrap": True, "weight": "Bolder",
         "color": TEAMS_COLORS.get(m["event"], "Default")},
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts(m)]},
    ]
    heading = changes_heading(m)
    if heading:
        body.append({"type": "TextBlock", "text": heading, "wrap": True, "weight": "Bolder"})
        lines = commit_lines(m, code="", bullet="-")
        if lines:  # a markdown list: one line per commit
            body.append({"type": "TextBlock", "text": "\n".join(lines), "wrap": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard", "version": "1.2", "body": body}
    url = (m.get("changes") or {}).get("compare_url")
    if url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Compare", "url": url}]
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": card}]}


# -- Discord -----------------------------------------------------------------------------

def discord(m: Message, text: str) -> dict[str, Any]:
    heading = changes_heading(m)
    description = "\n".join([f"**{heading}**", *commit_lines(m)]) if heading else ""
    embed: dict[str, Any] = {
        "title": cut(f"{m['project']}/{m['environment']} {m['event']}", 256),
        "color": int(COLORS.get(m["event"], "E01E5A"), 16),
        "fields": [{"name": k, "value": cut(v, 1024), "inline": True}
                   for k, v in facts(m)][:25],
        "timestamp": m["at"],
    }
    if description:
        embed["description"] = cut(description, 4096)
    url = (m.get("changes") or {}).get("compare_url")
    if url:
        embed["url"] = url
    return {"content": cut(text, 2000), "embeds": [embed], "allowed_mentions": {"parse": []}}


FORMATS = {"slack": slack, "teams": teams, "discord": discord}


def payload(fmt: str, message: Message, text: str) -> dict[str, Any]:
    """The body for one target: a chat service's own shape, or the flat json message."""
    build = FORMATS.get(fmt)
    return build(message, text) if build else message
