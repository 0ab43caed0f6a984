"""Where notices go: a folder of JSON files (development, tests) or an SMTP server."""

from __future__ import annotations

import json
import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from app.core.config import Settings


@dataclass(frozen=True)
class Message:
    id: str
    to: str
    subject: str
    text: str
    template: str
    locale: str
    request_id: str | None


class Sender(Protocol):
    def send(self, message: Message) -> None: ...


class FileSender:
    """One JSON file per message (api.md). The file is named by the message id, so a message
    delivered twice after a crash overwrites itself instead of appearing twice."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: Message) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        body = {
            "to": message.to,
            "subject": message.subject,
            "text": message.text,
            "template": message.template,
            "locale": message.locale,
            "request_id": message.request_id,
        }
        final = self.directory / f"{message.id}.json"
        tmp = final.with_suffix(".tmp")
        data = json.dumps(body, ensure_ascii=False).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, final)  # readers never see half a message


class SMTPSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, message: Message) -> None:
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.smtp_from
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(idstring=message.id)
        mail.set_content(message.text, charset="utf-8")
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
            smtp.send_message(mail)


def make_sender(settings: Settings) -> Sender:
    if settings.notify_backend == "smtp":
        return SMTPSender(settings)
    return FileSender(settings.resolved_notify_dir)
