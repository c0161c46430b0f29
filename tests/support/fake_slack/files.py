"""The fake's file methods: files.upload, and the external upload (files.getUploadURLExternal, the bytes sent to
its URL, files.completeUploadExternal), with Slack's refusals of a channel name and of a long alt_txt."""

from __future__ import annotations

import re
from typing import Any

from tests.support.fake_slack.calls import Answer, as_json
from tests.support.fake_slack.state import SlackState

# files.completeUploadExternal checks `channel_id` (and each of `channels`) against this pattern and answers
# invalid_arguments naming the JSON pointer; a channel name (#rds-drills) fails it. Slack's answer as reported in
# PostHog/posthog#47718; the method reference (docs.slack.dev "files.completeUploadExternal") asks for a channel ID.
CHANNEL_ID = re.compile(r"^[CGDZ][A-Z0-9]{8,}$")
# files.getUploadURLExternal refuses a longer alt_txt with alt_txt_too_large (its method reference, "Errors").
ALT_TXT_LIMIT = 1000


class FileMethods(SlackState):
    """Each method takes the parsed body and returns the JSON answer."""

    def _upload_bytes(self, path: str, raw: bytes) -> Answer:
        """The bytes sent to an upload URL files.getUploadURLExternal handed out."""
        file = self._files.get(path.rsplit("/", 1)[-1])
        if file is None:
            return Answer(404, b"not found", "text/plain")
        file["content"] = raw
        return Answer(200, f"OK - {len(raw)}".encode(), "text/plain")

    def _new_file(self, name: str, title: str | None, content: bytes | None) -> dict[str, Any]:
        file_id = self._next_id("F")
        self._files[file_id] = {"id": file_id, "name": name, "title": title or name, "content": content}
        return {"id": file_id, "name": name, "title": title or name, "size": len(content or b"")}

    def _files_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        content = body.get("file", body.get("content"))
        if content is None:
            return {"ok": False, "error": "no_file_data"}
        data = content if isinstance(content, bytes) else str(content).encode()
        return {"ok": True, "file": self._new_file(body.get("filename", "file"), body.get("title"), data)}

    def _files_get_upload_url(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("filename") or not body.get("length"):
            return {"ok": False, "error": "invalid_arguments"}
        if len(str(body.get("alt_txt") or "")) > ALT_TXT_LIMIT:
            return {"ok": False, "error": "alt_txt_too_large"}
        file = self._new_file(body["filename"], None, None)
        self._files[file["id"]]["alt_txt"] = body.get("alt_txt")
        return {"ok": True, "file_id": file["id"], "upload_url": f"{self.root_url}/upload/{file['id']}"}

    def _files_complete_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        for pointer, given in [("channel_id", body.get("channel_id"))] + [
            ("channels", c) for c in str(body.get("channels") or "").split(",") if c
        ]:
            if given and not CHANNEL_ID.match(str(given)):
                message = f"[ERROR] input must match regex pattern: {CHANNEL_ID.pattern} [json-pointer:/{pointer}]"
                return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [message]}}
        completed = []
        for item in as_json(body.get("files")) or []:
            file = self._files.get(item.get("id", ""))
            if file is None or file["content"] is None:
                return {"ok": False, "error": "file_not_found"}
            file["title"] = item.get("title") or file["title"]
            size = len(file["content"])
            completed.append({"id": file["id"], "name": file["name"], "title": file["title"], "size": size})
        if not completed:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "files": completed}
