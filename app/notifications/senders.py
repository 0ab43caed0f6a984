"""Where notices go: a folder of JSON files (development, tests) or an SMTP server.

The outbox sends a batch through `open_batch(sender)`: for SMTP that is one connection for the
whole batch (opened by `ready()`, before the message's lease is checked), for the others each
message on its own.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

from app.core.config import Settings

log = logging.getLogger("rightsdesk.notifications")


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


class Batch(Protocol):
    """One batch's way out: `ready()` before each message (connects if need be, so that the
    time it takes is not counted against the message), then `send()`."""

    def ready(self) -> None: ...

    def send(self, message: Message) -> None: ...


class _OneByOne:
    def __init__(self, sender: Sender) -> None:
        self.send = sender.send

    def ready(self) -> None:
        pass


@contextmanager
def open_batch(sender: Sender) -> Iterator[Batch]:
    """The sender's batch if it has one (SMTPSender: one connection), else one send each."""
    batch = getattr(sender, "batch", None)
    if batch is None:
        yield _OneByOne(sender)
    else:
        with batch() as opened:
            yield opened


class FileSender:
    """One JSON file per message. The file is named by the message id, so a message
    delivered twice after a crash overwrites itself instead of appearing twice."""

    # Sending again is harmless, so the outbox may record its successes in groups.
    idempotent = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # Recorded with each message sent (outbox_message.delivered_to): the purge finds the
        # file here even after RIGHTSDESK_NOTIFY_DIR has moved.
        self.location = os.path.abspath(directory)

    def send(self, message: Message) -> None:
        try:
            self._write(message)
        except FileNotFoundError:  # the folder is made on first use (or again, if removed)
            self.directory.mkdir(parents=True, exist_ok=True)
            self._write(message)

    def _write(self, message: Message) -> None:
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


def remove_files(directory: Path, message_ids: list[str]) -> int:
    """Destroy the file sender's copies of these messages (the purge, PIPA Art. 21(3)): each
    file is overwritten with zeros before it is unlinked, so its text does not stay in the
    freed blocks of an ordinary file system. How many there were; never raises."""
    removed = 0
    for message_id in message_ids:
        for path in (directory / f"{message_id}.json", directory / f"{message_id}.tmp"):
            try:
                with path.open("r+b") as f:
                    size = f.seek(0, os.SEEK_END)
                    f.seek(0)
                    f.write(b"\0" * size)
                    f.flush()
                    os.fsync(f.fileno())
                path.unlink()
                removed += 1
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.error("could not remove a notice file: %s", type(exc).__name__)
    return removed


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Verifies the relay's certificate and host name: against the system's CAs, or only
    those of RIGHTSDESK_SMTP_CA_FILE when it is set (a private relay's own CA)."""
    cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    return ssl.create_default_context(cafile=cafile)


# A refusal of one message (its sender, a recipient, its content): smtplib has reset the
# transaction, so the connection can carry the next message. Anything else drops it.
_REFUSALS = (smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)


class _Connection:
    """One SMTP connection for a batch: opened on the first `ready()`, reopened after an error
    that may have broken it. If opening fails, the rest of the batch fails with the same error
    at once instead of waiting out the timeout once per message."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._unreachable: BaseException | None = None

    def ready(self) -> None:
        if self._unreachable is not None:
            raise self._unreachable
        if self._smtp is None:
            try:
                self._smtp = self._open()
            except Exception as exc:
                self._unreachable = exc
                raise

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        host, port, timeout = s.smtp_host, s.resolved_smtp_port, s.smtp_timeout_seconds
        smtp: smtplib.SMTP
        if s.smtp_tls:
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=tls_context(s))
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if s.smtp_starttls:
                # Raises SMTPNotSupportedError when the relay does not offer it: never a
                # silent fall-back to plain text.
                smtp.starttls(context=tls_context(s))
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: Message) -> None:
        self.ready()
        assert self._smtp is not None
        try:
            self._smtp.send_message(_mail(self.settings, message))
        except _REFUSALS as exc:
            if getattr(exc, "smtp_code", None) == 421:  # the server is closing the connection
                self._drop()
            raise
        except BaseException:
            self._drop()
            raise

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._drop()


def _mail(settings: Settings, message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    # The outbox message id, the same on every attempt: a copy sent again after a crash is
    # recognisable as the same message (by the recipient's client and by the tests).
    domain = settings.smtp_from.rpartition("@")[2] or "rightsdesk.invalid"
    mail["Message-ID"] = f"<{message.id}@{domain}>"
    mail.set_content(message.text, charset="utf-8")
    return mail


class SMTPSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @contextmanager
    def batch(self) -> Iterator[_Connection]:
        connection = _Connection(self.settings)
        try:
            yield connection
        finally:
            connection.close()

    def send(self, message: Message) -> None:
        """One message on a connection of its own."""
        with self.batch() as connection:
            connection.send(message)


def make_sender(settings: Settings) -> Sender:
    if settings.notify_backend == "smtp":
        return SMTPSender(settings)
    return FileSender(settings.resolved_notify_dir)
