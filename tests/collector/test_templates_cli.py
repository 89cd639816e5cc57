"""`xunjian-collector template apply|list|show|rollback`, the starter templates through the real validation."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from checks.spec import parse_spec
from collector.cli import main
from collector.templates.cli import STARTER, starters
from tests.collector.templates_helpers import template


def run(capsys: Any, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'x.db'}"


def test_starters_apply_through_the_real_validation(capsys: Any, db: str) -> None:
    assert starters() == ["mq", "os", "seal", "voucher"]
    for name in starters():
        code, out, _ = run(capsys, "template", "apply", f"starter:{name}", "--db", db, "--actor", "tester")
        assert code == 0 and "已发布模板" in out and "v1" in out
        text = (STARTER / f"{name}.yaml").read_text(encoding="utf-8")
        checks = yaml.safe_load(text)["checks"]
        for i, check in enumerate(checks):
            parse_spec(check, f"checks[{i}]")  # what the agent will run
        if name != "mq":  # nothing an agent's default central_allow refuses (runs no program)
            assert not {c["type"] for c in checks} & {"command", "sql", "mq"}, name
        # every option is commented in Chinese
        for line in text.splitlines():
            if re.match(r"^\s*(- )?[a-z_]+:", line):
                assert re.search(r"#.*[\u4e00-\u9fff]", line), f"{name}: {line}"
    code, out, _ = run(capsys, "template", "list", "--db", db)
    assert code == 0 and all(n in out for n in ("voucher-base", "seal-base", "mq-base", "os-base"))
    code, out, _ = run(capsys, "template", "show", "seal-base", "--db", db)
    assert code == 0 and "SM2" in out and "tester" in out


def test_apply_share_show_rollback(capsys: Any, db: str, tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(template(), encoding="utf-8")
    code, out, _ = run(capsys, "template", "apply", str(f), "--dry-run", "--db", db)
    assert code == 0 and "校验通过 (--dry-run: 未保存): 模板 voucher-base, 2 项检查" in out
    assert "还没有模板" in run(capsys, "template", "list", "--db", db)[1]
    assert run(capsys, "template", "apply", str(f), "--db", db)[0] == 0
    f.write_text(template(interval="45s"), encoding="utf-8")
    code, out, _ = run(capsys, "template", "apply", str(f), "--percent", "5", "--db", db)
    assert code == 0 and "v2 到 5% 的匹配主机, 其余主机保持 v1" in out
    code, out, _ = run(capsys, "template", "apply", str(f), "--percent", "100", "--db", db)
    assert "发布比例改为 100%" in out
    code, out, _ = run(capsys, "template", "show", "voucher-base", "--db", db)
    assert "当前 v2, 发布比例 100%" in out and "可回退到 v1" in out and "interval: 45s" in out
    code, out, _ = run(capsys, "template", "rollback", "voucher-base", "--db", db)
    assert code == 0 and "已回退到 v1" in out
    code, _, err = run(capsys, "template", "rollback", "voucher-base", "--db", db)
    assert code == 2 and err.strip() == "xunjian-collector: 模板 voucher-base 没有上一个版本, 无法回退 (当前 v1)"


def test_quiet_chinese_errors(capsys: Any, db: str, tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(template(extra="  - {name: c, type: cert, files: [/a.p12], password: abc}\n"), encoding="utf-8")
    code, _, err = run(capsys, "template", "apply", str(f), "--db", db)
    assert code == 2 and "不能写密码或密钥的明文" in err and "Traceback" not in err and len(err.splitlines()) == 1
    code, _, err = run(capsys, "template", "apply", str(tmp_path / "missing.yaml"), "--db", db)
    assert code == 2 and "无法读取" in err
    code, _, err = run(capsys, "template", "apply", "starter:nope", "--db", db)
    assert code == 2 and "没有名为 nope 的内置模板" in err
    code, _, err = run(capsys, "template", "show", "nope", "--db", db)
    assert code == 2 and "模板 nope 不存在" in err
    f.write_text(template(), encoding="utf-8")
    code, _, err = run(capsys, "template", "apply", str(f), "--percent", "0", "--db", db)
    assert code == 2 and "1 到 100" in err
