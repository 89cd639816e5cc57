"""E-mail over SMTP (plain, STARTTLS or implicit TLS), zh-CN subject and body in UTF-8; optionally to
other recipients than the channel's and with files attached (the monthly report to a customer)."""
from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from alerts.notify.base import Channel, DeliveryResult, tls_context
from alerts.notify.config import EmailOptions
from alerts.notify.message import CHINA_TZ, Notification, render_plain, render_subject


@dataclass(frozen=True)
class Attachment:
    filename: str  # may be Chinese: sent RFC 2231 encoded
    content: bytes
    mime: str = "application/octet-stream"


class EmailChannel(Channel):
    type = "email"
    label = "邮件"
    Options = EmailOptions
    options: EmailOptions

    def render(self, n: Notification, to: Sequence[str] = (),
               attachments: Sequence[Attachment] = ()) -> EmailMessage:
        """With the default policy, non-ASCII headers are RFC 2047 encoded and the body is UTF-8.
        `to` replaces the channel's recipients."""
        o = self.options
        msg = EmailMessage()
        msg["Subject"] = render_subject(n, o.prefix)
        msg["From"] = o.sender
        msg["To"] = ", ".join(to or o.to)
        msg["Date"] = format_datetime(datetime.now(CHINA_TZ))
        domain = parseaddr(o.sender)[1].rpartition("@")[2] or None
        msg["Message-ID"] = make_msgid("xunjian", domain=domain)
        if n.id:
            msg["X-Xunjian-Id"] = n.id
        msg["X-Xunjian-Kind"] = n.kind
        msg.set_content(render_plain(n, o.prefix), charset="utf-8")
        for a in attachments:
            maintype, _, subtype = a.mime.partition("/")
            msg.add_attachment(a.content, maintype=maintype, subtype=subtype or "octet-stream", filename=a.filename)
        return msg

    def _connect(self) -> smtplib.SMTP:
        o = self.options
        if o.security == "ssl":
            return smtplib.SMTP_SSL(o.host, o.effective_port, local_hostname=o.local_hostname,
                                    timeout=o.timeout, context=tls_context(o.ca_file, o.verify_tls))
        smtp = smtplib.SMTP(o.host, o.effective_port, local_hostname=o.local_hostname, timeout=o.timeout)
        if o.security == "starttls":
            try:
                smtp.starttls(context=tls_context(o.ca_file, o.verify_tls))
            except BaseException:
                smtp.close()
                raise
        return smtp

    def send_mail(self, n: Notification, *, to: Sequence[str] = (),
                  attachments: Sequence[Attachment] = ()) -> DeliveryResult:
        """Like `send`, to `to` (default: the channel's recipients) with files attached."""
        return self.guarded(self._send, n, to, attachments)

    def _send(self, n: Notification, to: Sequence[str] = (),
              attachments: Sequence[Attachment] = ()) -> DeliveryResult:
        o = self.options
        msg = self.render(n, to, attachments)
        where = f"{o.host}:{o.effective_port}"
        try:
            smtp = self._connect()
            try:
                if o.user and o.password:
                    smtp.login(o.user, o.password)
                refused = smtp.send_message(msg, from_addr=_addr(o.sender),
                                            to_addrs=[_addr(t) for t in (to or o.to)])
            finally:
                _quit(smtp)
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            text = f"邮件服务器 {where} 拒绝全部收件人: {_refusals(e.recipients)}"
            if codes and all(c >= 500 for c in codes):
                return DeliveryResult.failed(text, max(codes))
            return DeliveryResult.retry(text, status=max(codes) if codes else None)
        except smtplib.SMTPResponseException as e:  # auth, sender, data, helo, connect: judged by the code
            detail = _text(e.smtp_error)
            text = f"邮件服务器 {where} 应答 {e.smtp_code}: {detail}"
            if 500 <= e.smtp_code < 600:
                return DeliveryResult.failed(text, e.smtp_code)
            return DeliveryResult.retry(text, status=e.smtp_code)
        except smtplib.SMTPNotSupportedError as e:  # e.g. no STARTTLS or no AUTH: the config must change
            return DeliveryResult.failed(f"邮件服务器 {where} 不支持: {e}")
        except ssl.SSLCertVerificationError as e:
            return DeliveryResult.failed(f"邮件服务器 {where} 证书校验失败: {e.verify_message}")
        except (smtplib.SMTPException, OSError) as e:  # refused, reset, timeout, disconnected
            return DeliveryResult.retry(f"邮件服务器 {where} 连接失败: {type(e).__name__}: {e}")
        if refused:
            return DeliveryResult.sent(f"部分收件人被拒绝: {_refusals(refused)}")
        return DeliveryResult.sent()


def _addr(value: str) -> str:
    return parseaddr(value)[1] or value


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _refusals(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{addr} ({code} {_text(msg)})"
                     for addr, (code, msg) in recipients.items())


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
