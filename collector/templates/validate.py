"""A template file read and judged: its YAML, its keys, its checks by the agent's own check parser
(checks.spec.parse_spec, as `xunjian-agent validate` does), no secret values, nothing a database or a
browser should not receive. Every refusal is a TemplateError with a Chinese message that names the
place."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from checks.options import ConfigError
from checks.spec import parse_spec

MAX_TEXT_BYTES = 256 * 1024
MAX_CHECKS = 500
MAX_PRIORITY = 10_000
TOP_KEYS = ("name", "description", "match", "priority", "checks")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
LABEL_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_LABEL_VALUE = 128
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
_SCRIPT = re.compile(r"<\s*/?\s*script", re.I)
# Keys whose values are secrets; `*_env` and `*_file` name where the secret is, and are what templates use.
_SECRET_KEY = re.compile(r"pass(word|wd|phrase)?$|^pwd$|secret|token|api[_-]?key|private[_-]?key|credential|"
                         r"^authorization$|^cookie$|^x-auth", re.I)
_REFERENCE = re.compile(r"_(env|file)$", re.I)
# `password=...` inside a command line, a query or a request body.
_INLINE = re.compile(r"(pass(word|wd)?|pwd|secret|token)\s*[=:]\s*[^\s$*{]", re.I)
_INLINE_KEYS = {"command", "status_commands", "query", "stdin", "body", "url"}


class TemplateError(ValueError):
    """A template refused; the message is for the operator, in Chinese."""


@dataclass(frozen=True)
class Parsed:
    name: str
    description: str
    match: dict[str, str]
    priority: int
    checks: list[dict[str, Any]]
    text: str


def parse_template(text: Any) -> Parsed:
    if not isinstance(text, str):
        raise TemplateError("模板内容必须是文本")
    _check_text(text)
    data = _load_yaml(text)
    if not isinstance(data, dict):
        raise TemplateError("模板必须是一个映射, 包含 name、match、priority 和 checks")
    unknown = [str(k) for k in data if k not in TOP_KEYS]
    if unknown:
        raise TemplateError(f"未知的键: {', '.join(unknown[:5])} (可用: {', '.join(TOP_KEYS)})")
    name = data.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise TemplateError(f"name: {_show(name)} 不是有效的模板名 (字母、数字、'-'、'_'、'.', 最多 64 个字符)")
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > 500:
        raise TemplateError("description: 应为不超过 500 个字符的文本")
    priority = data.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > MAX_PRIORITY:
        raise TemplateError(f"priority: {_show(priority)} 应为 -{MAX_PRIORITY} 到 {MAX_PRIORITY} 之间的整数")
    return Parsed(name=name, description=description, match=_match(data.get("match")), priority=priority,
                  checks=validate_checks(data.get("checks")), text=text)


def _check_text(text: str) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_TEXT_BYTES:
        raise TemplateError(f"模板过大: {size} 字节, 最多 {MAX_TEXT_BYTES // 1024} KiB")
    bad = _BAD_CHARS.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        what = "NUL 字符" if bad.group() == "\x00" else "孤立的 UTF-16 代理项"
        raise TemplateError(f"第 {line} 行含有{what}, 无法保存; 请删除后重试")
    script = _SCRIPT.search(text)
    if script is not None:
        line = text.count("\n", 0, script.start()) + 1
        raise TemplateError(f"第 {line} 行含有 <script> 标记; 模板不接受 HTML 脚本")


def _load_yaml(text: str) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader without aliases: `*a` repeated builds exponential structures from a few bytes."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise TemplateError(f"第 {mark.line + 1} 行: 模板不支持 YAML 别名 (*名称), 请直接写出内容")
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列: " if mark is not None else ""
        raise TemplateError(f"不是有效的 YAML: {where}{e.problem or e.context or e}") from None
    except yaml.YAMLError as e:
        raise TemplateError(f"不是有效的 YAML: {e}") from None
    except RecursionError:
        raise TemplateError("不是有效的 YAML: 嵌套层次过深") from None


def _match(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise TemplateError("match: 应为标签映射, 如 {unit: 某市财政局, system: voucher}; {} 匹配所有主机")
    out = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not LABEL_KEY.match(key):
            raise TemplateError(f"match: 标签名 {_show(key)} 无效 (字母、数字、'-'、'_'、'.')")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise TemplateError(f"match.{key}: 应为文本")
        value = str(value)
        if not value or len(value) > MAX_LABEL_VALUE or "<" in value:
            raise TemplateError(f"match.{key}: 应为 1 到 {MAX_LABEL_VALUE} 个字符的文本, 不含 '<'")
        out[key] = value
    return out


def validate_checks(raw: Any) -> list[dict[str, Any]]:
    """The `checks:` list as the agent would accept it, then refused if it holds secrets or values JSON
    cannot carry."""
    if not isinstance(raw, list) or not raw:
        raise TemplateError("checks: 应为至少包含一项检查的列表")
    if len(raw) > MAX_CHECKS:
        raise TemplateError(f"checks: 最多 {MAX_CHECKS} 项检查")
    seen: set[str] = set()
    for i, item in enumerate(raw):
        try:
            spec = parse_spec(item, f"checks[{i}]")
        except (ConfigError, ValueError, TypeError) as e:
            raise TemplateError(f"检查项配置有误 (与 xunjian-agent validate 相同的校验): {e}") from None
        except (ArithmeticError, RecursionError) as e:  # a check's own arithmetic on a hostile value
            raise TemplateError(f"检查项配置有误: checks[{i}]: 数值无效 ({type(e).__name__}: {e})") from None
        if spec.name in seen:
            raise TemplateError(f"checks[{i}].name: 检查名 {spec.name} 重复")
        seen.add(spec.name)
        _no_secrets(item, f"checks[{i}] ({spec.name})")
        try:
            json.dumps(item, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError):
            raise TemplateError(f"checks[{i}] ({spec.name}): 含有无法传给代理的值 (日期、NaN 等); "
                                "日期请加引号写成文本") from None
    return raw


def _no_secrets(node: Any, where: str, key: str = "") -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            name = str(k)
            here = f"{where}.{name}"
            if _SECRET_KEY.search(name) and not _REFERENCE.search(name) and _has_value(v):
                raise TemplateError(f"{here}: 模板里不能写密码或密钥的明文; 请改为引用: password_env (环境变量名) "
                                    "或 password_file (代理主机上的文件路径)")
            _no_secrets(v, here, name.lower())
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _no_secrets(v, f"{where}[{i}]", key)
    elif isinstance(node, str):
        if _url_password(node):
            raise TemplateError(f"{where}: URL 中含有密码 (用户名:密码@主机); 请去掉密码, 改用 password_env "
                                "或 password_file")
        if key in _INLINE_KEYS and _INLINE.search(node):
            raise TemplateError(f"{where}: 命令或语句中含有密码明文; 请改用 password_env 或 password_file")
    elif isinstance(node, float) and not math.isfinite(node):
        raise TemplateError(f"{where}: 数值必须是有限数")
    elif isinstance(node, int) and not isinstance(node, bool) and not -(2**63) <= node < 2**63:
        raise TemplateError(f"{where}: 数值过大 (超出 64 位整数范围)")


def _has_value(v: Any) -> bool:
    return v not in (None, "", [], {})


def _url_password(text: str) -> bool:
    if "@" not in text or "://" not in text:
        return False
    try:
        return bool(urlsplit(text.strip()).password)
    except ValueError:
        return False


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
