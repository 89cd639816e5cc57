"""IBM MQ parsers on real runmqsc/dspmq captures, and the command path through a fake runmqsc."""
from __future__ import annotations

import os
import stat
import time
from dataclasses import replace
from pathlib import Path

import pytest

from checks.model import Status
from checks.mq import MqCheck, MqOptions
from checks.mq.ibmmq import (
    channels_from_records,
    failures,
    parse_attributes,
    parse_dspmq,
    parse_runmqsc,
    queues_from_records,
    snapshot,
)
from checks.mq.judge import Rules, judge
from checks.options import build
from tests.helpers.fixtures import FIXTURES, fixture_text


def queues(name: str) -> dict[str, object]:
    return {q.name: q for q in queues_from_records(parse_runmqsc(fixture_text(f"mq/{name}")))}


def test_attributes_nested_empty_spaces_and_flags() -> None:
    assert parse_attributes("CONNAME(192.168.1.110(1416))            CURRENT") == [
        ("CONNAME", "192.168.1.110(1416)"), ("CURRENT", "")]
    assert parse_attributes("QTIME( , )    MSGAGE( )") == [("QTIME", ","), ("MSGAGE", "")]
    assert parse_attributes("QMNAME(FOO.BAR)   STATUS(ENDED UNEXPECTEDLY) NOW(x)")[1] == (
        "STATUS", "ENDED UNEXPECTEDLY")
    assert parse_attributes("One MQSC command read.") is None
    assert parse_attributes("1 : dis ql(queue1) curdepth") is None


def test_checkmk_qlocal_and_qstatus_merge_maxdepth_and_depth() -> None:
    qs = queues("ibmmq_checkmk_qlocal_qstatus_1.txt")
    other = qs["OTHER.LARGE.INPUT.TEST.FOR.CHECKMK"]
    assert (other.depth, other.max_depth, other.consumers, other.producers) == (1400, 200000, 5, 0)
    large = qs["MY.LARGE.INPUT.TEST.FOR.CHECKMK"]  # QUEUE(...) on its own line, TYPE on the next
    assert (large.depth, large.max_depth) == (0, 5000)
    acct = qs["SYSTEM.ADMIN.ACCOUNTING.QUEUE"]   # MAXDEPTH moved to the second column's line
    assert (acct.depth, acct.max_depth) == (0, 3000)


def test_checkmk_records_know_their_queue_manager_and_the_failure() -> None:
    records = parse_runmqsc(fixture_text("mq/ibmmq_checkmk_qlocal_qstatus_1.txt"))
    assert {r.qmgr for r in records} == {"FOO.BAR", "MY.TEST"}
    assert records[0].msgid == "AMQ8146" and records[0].severity == ""
    fails = failures(records)
    assert fails and fails[0][0] == Status.CRITICAL and "队列管理器 FOO.BAR 不可用" in fails[0][1]
    qmgrs = parse_dspmq(fixture_text("mq/ibmmq_checkmk_qlocal_qstatus_1.txt"))
    assert [(q.name, q.status) for q in qmgrs] == [("FOO.BAR", "ENDED UNEXPECTEDLY"), ("MY.TEST", "RUNNING")]


def test_monq_off_empty_values() -> None:
    q = queues("ibmmq_checkmk_qlocal_qstatus_3_monq_off.txt")["MY.QUEUE"]
    assert (q.depth, q.max_depth, q.consumers, q.producers) == (0, 5000, 2, 0)
    recs = parse_runmqsc(fixture_text("mq/ibmmq_checkmk_qlocal_qstatus_3_monq_off.txt"))
    rec = next(r for r in recs if r.msgid == "AMQ8450")
    assert rec.attrs["MSGAGE"] == "" and rec.attrs["QTIME"] == "," and rec.attrs["UNCOM"] == "NO"


def test_display_qlocal_with_severity_letter_and_trailing_spaces() -> None:
    assert queues("ibmmq_display_qlocal_1.txt")["QUEUE1"].depth == 1
    assert queues("ibmmq_display_qlocal_2.txt")["QUEUE1"].depth == 200
    rec = parse_runmqsc(fixture_text("mq/ibmmq_display_qlocal_1.txt"))[0]
    assert (rec.msgid, rec.severity, rec.qmgr) == ("AMQ8409", "I", "QM1")


def test_display_qstatus_variants() -> None:
    q = queues("ibmmq_display_qstatus_1.txt")["DEV.QUEUE.1"]
    assert (q.depth, q.consumers, q.producers) == (1, 0, 0)
    assert queues("ibmmq_display_qstatus_2_lget_lput.txt")["SOURCE.Q"].depth == 0
    rec = parse_runmqsc(fixture_text("mq/ibmmq_display_qstatus_2_lget_lput.txt"))[0]
    assert rec.attrs["LPUTTIME"] == "14.57.01"
    # TYPE(HANDLE) records are about open handles, not depth
    assert queues("ibmmq_display_qstatus_3_type_handle.txt") == {}
    handles = parse_runmqsc(fixture_text("mq/ibmmq_display_qstatus_3_type_handle.txt"))
    assert [r.attrs["CONNAME"] for r in handles] == ["10.131.1.20", "10.129.3.151"]


def test_chstatus_svrconn_instances_grouped() -> None:
    chans = {c.name: c for c in channels_from_records(
        parse_runmqsc(fixture_text("mq/ibmmq_checkmk_chstatus_2_mq9.txt")))}
    assert set(chans) == {"YYYYYYYYYY.SVRCONN", "XXX.XXXX.XXX.SVRCONN"}
    assert chans["XXX.XXXX.XXX.SVRCONN"].detail == "SVRCONN 3 个实例"
    assert all(c.status == Status.OK for c in chans.values())


def test_chstatus_tab_indented_transcript_with_nested_conname() -> None:
    recs = parse_runmqsc(fixture_text("mq/ibmmq_display_chstatus_2_sdr_full_transcript.txt"))
    assert len(recs) == 1
    a = recs[0].attrs
    assert a["CONNAME"] == "192.168.1.110(1416)" and a["RQMNAME"] == "CRC01CMM"
    assert a["XMITQ"] == "CRC01CMM" and a["STATUS"] == "RUNNING" and recs[0].qmgr == "CRC01CRD"


def test_chstatus_all_attributes() -> None:
    rec = parse_runmqsc(fixture_text("mq/ibmmq_display_chstatus_3_all_svrconn_mq94.txt"))[0]
    a = rec.attrs
    assert a["LOCLADDR"] == "9.30.219.53(1415)" and a["MSGS"] == "19218"
    assert a["RAPPLTAG"] == "org.apache.karaf.main.Main" and a["RPRODUCT"] == "MQJB"
    assert a["SSLCIPH"] == "" and a["COMPHDR"] == "NONE,NONE"


def test_chstatus_not_found_is_not_a_failure() -> None:
    recs = parse_runmqsc(fixture_text("mq/ibmmq_checkmk_chstatus_1_not_found.txt"))
    assert [r.msgid for r in recs] == ["AMQ8414", "AMQ8420"]
    assert recs[0].attrs == {"CHANNEL": "HERE.TO.THERE.TWO", "CHLTYPE": "SDR",
                             "XMITQ": "HERE.TO.THERE.TWO.XMIT"}
    assert channels_from_records(recs) == [] and failures(recs) == []


def test_qmstatus() -> None:
    snap = snapshot([fixture_text("mq/ibmmq_display_qmstatus_1.txt")])
    assert [(lk.name, lk.state, lk.status) for lk in snap.links] == [("QM1", "RUNNING", Status.OK)]
    rec = parse_runmqsc(fixture_text("mq/ibmmq_display_qmstatus_1.txt"))[0]
    assert rec.attrs["DISKLSN"] == "<0:0:79:38170>" and rec.attrs["CONNS"] == "44"


@pytest.mark.parametrize(("name", "expected"), [
    ("ibmmq_dspmq_1.txt", [("DRHAQM1", "Running")]),
    ("ibmmq_dspmq_2.txt", [("RDQM1", "Running")]),
    ("ibmmq_dspmq_3_multi_instance.txt", [("QMMI1", "Running as standby")]),
    ("ibmmq_dspmq_4.txt", [("QM3", "Running")]),
    ("ibmmq_dspmq_6_ended_normally.txt", [("QMA", "Ended normally"), ("QMB", "Ended normally")]),
    ("ibmmq_dspmq_7_x_o_all.txt", [("QM1", "Running")]),
])
def test_dspmq(name: str, expected: list[tuple[str, str]]) -> None:
    assert [(q.name, q.status) for q in parse_dspmq(fixture_text(f"mq/{name}"))] == expected


def test_dspmq_crlf_many_and_instances() -> None:
    text = fixture_text("mq/ibmmq_dspmq_5_many_qmgrs_crlf.txt")
    assert "\r\n" in text
    qm = parse_dspmq(text)
    assert len(qm) == 24 and qm[0].name == "CRC01CRD" and qm[-1].name == "CRC15AGN"
    assert all(q.status == "Running" for q in qm)
    mi = parse_dspmq(fixture_text("mq/ibmmq_dspmq_3_multi_instance.txt"))[0]
    assert [i["MODE"] for i in mi.instances] == ["Active", "Standby"]
    x = parse_dspmq(fixture_text("mq/ibmmq_dspmq_7_x_o_all.txt"))[0]
    assert x.attrs["INSTVER"] == "9.4.2.0" and x.attrs["STANDBY"] == "Not permitted"
    assert x.instances == [{"INSTANCE": "ibmmq1.fyre.ibm.com", "MODE": "Active"}]


def test_ended_queue_manager_is_critical() -> None:
    snap = snapshot([fixture_text("mq/ibmmq_dspmq_6_ended_normally.txt")])
    assert [lk.status for lk in snap.links] == [Status.CRITICAL, Status.CRITICAL]
    standby = snapshot([fixture_text("mq/ibmmq_dspmq_3_multi_instance.txt")])
    assert standby.links[0].status == Status.OK


def test_object_not_found_error_is_said_once_on_its_object() -> None:
    recs = parse_runmqsc(fixture_text("mq/ibmmq_error_amq8147_object_not_found.txt"))
    assert [(r.msgid, r.qmgr) for r in recs] == [("AMQ8147", "TEST")]
    assert failures(recs) == []  # said on the object instead
    snap = snapshot([fixture_text("mq/ibmmq_error_amq8147_object_not_found.txt")])
    assert snap.missing == ["LISTENER"]
    out = judge(snap, RULES)
    assert (out.status, out.summary) == (Status.CRITICAL, "IBM MQ: 对象不存在: LISTENER")
    out = judge(snap, replace(RULES, queues=["LISTENER"]))  # the tool said so: "不存在" is right
    assert (out.status, out.summary) == (Status.CRITICAL, "IBM MQ: 队列不存在: LISTENER")


# -- queue identity, damaged and unavailable objects ------------------------------------------

RULES = Rules(product="IBM MQ", queues=[], dead_letter=["SYSTEM.DEAD.LETTER.QUEUE"],
              dead_letter_explicit=False, system_prefixes=("SYSTEM.",))


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_same_queue_name_on_two_queue_managers_is_two_queues(order: tuple[int, int]) -> None:
    """Combines two real captures (no one published one output with two queue managers holding
    the same queue): QUEUE1 on QM1 with CURDEPTH(1) (ibmmq_display_qlocal_1, `runmqsc QM1`) and
    QUEUE1 with CURDEPTH(200) from `runmqsc RDQM1` (ibmmq_display_qlocal_2, printed without its
    banner, so the queue manager is given as the check's `qmgr`). Before, the two merged into one
    queue whose depth was whichever came last."""
    texts = [fixture_text("mq/ibmmq_display_qlocal_1.txt"), fixture_text("mq/ibmmq_display_qlocal_2.txt")]
    snap = snapshot([texts[i] for i in order], qmgr="RDQM1")
    assert sorted((q.owner, q.name, q.depth) for q in snap.queues) == [("QM1", "QUEUE1", 1),
                                                                       ("RDQM1", "QUEUE1", 200)]
    out = judge(snap, replace(RULES, depth_warn="100"))
    assert out.status == Status.WARNING
    assert out.summary == "IBM MQ: 队列 RDQM1:QUEUE1 积压 200 条 (阈值 100/-)"
    assert {m.name: m.value for m in out.metrics} == {"queue_depth:QM1:QUEUE1": 1,
                                                      "queue_depth:RDQM1:QUEUE1": 200}
    assert [(q["owner"], q["depth"]) for q in out.details["queues"]] == [("RDQM1", 200), ("QM1", 1)]
    # a configured plain name selects the queue on every queue manager, a qualified one just its own
    assert judge(snap, replace(RULES, queues=["QUEUE1"], depth_warn="100")).status == Status.WARNING
    only = judge(snap, replace(RULES, queues=["QM1:QUEUE1"], depth_warn="100"))
    assert (only.status, only.summary) == (Status.OK, "IBM MQ: 1 个队列正常, 共积压 1 条 (最多 QM1:QUEUE1 1 条)")


def test_queue_manager_the_banner_does_not_name_comes_from_the_config() -> None:
    snap = snapshot([fixture_text("mq/ibmmq_amq8146_mqseries_banner_without_qmgr.txt")], qmgr="QMgrName")
    assert snap.problems == [(Status.CRITICAL, "队列管理器 QMgrName 不可用 (AMQ8146: MQSeries queue manager "
                                               "not available.)")]
    out = judge(snap, replace(RULES, queues=["Q.VOUCHER.IN"]))
    assert "队列未列出: Q.VOUCHER.IN (可能原因: 队列管理器 QMgrName 不可用 (AMQ8146))" in out.summary


def test_output_without_banner_after_another_is_never_lower() -> None:
    """The same two captures in one text: the second has no banner, so its QUEUE1 counts as the
    first queue manager's; one queue then, with the larger depth, not the last one printed."""
    text = fixture_text("mq/ibmmq_display_qlocal_1.txt") + fixture_text("mq/ibmmq_display_qlocal_2.txt")
    assert [(q.owner, q.depth) for q in snapshot([text]).queues] == [("QM1", 200)]


def test_fake_runmqsc_damaged_queue_end_to_end(tmp_path: Path) -> None:
    runmqsc = _fake(tmp_path, "runmqsc", "ibmmq_amq8149s_damaged_mq9.txt", exit_code=20)
    out = mq(command=[str(runmqsc), "QM1"], qmgr="QM1", status_commands=[["true"]], queues=["X0", "X1"]).run()
    assert out.status == Status.CRITICAL
    assert "队列 QM1 报告有对象已损坏" not in out.summary  # the queue manager is not a queue
    assert "队列管理器 QM1 报告有对象已损坏, 输出未指明是哪个 (AMQ8149S" in out.summary
    assert "队列 X0 可能已损坏" in out.summary and "不存在" not in out.summary
    assert "DISPLAY QLOCAL(*)\n" in (tmp_path / "runmqsc.stdin").read_text()
    named = _fake(tmp_path, "runmqsc7", "ibmmq_amq8149_damaged_named_mq7.txt", exit_code=20)
    out = mq(command=[str(named), "QMLL"], queues=["QL.A"]).run()
    assert (out.status, out.summary) == (Status.CRITICAL, "IBM MQ: 队列 QL.A 已损坏")


def test_one_queue_manager_keeps_plain_names_and_the_larger_depth() -> None:
    text = fixture_text("mq/ibmmq_checkmk_qlocal_qstatus_1.txt")
    # the same queue in QLOCAL and QSTATUS records moments apart: the larger depth is kept
    more = text.replace("   QUEUE(SYSTEM.ADMIN.ACCOUNTING.QUEUE)    TYPE(QLOCAL)\n   MAXDEPTH(3000)",
                        "   QUEUE(SYSTEM.ADMIN.ACCOUNTING.QUEUE)    TYPE(QLOCAL)\n   MAXDEPTH(3000) CURDEPTH(9)")
    assert more != text
    depth = {q.name: q.depth for q in snapshot([more]).queues}
    assert depth["SYSTEM.ADMIN.ACCOUNTING.QUEUE"] == 9
    out = judge(snapshot([text]), RULES)
    assert "queue_depth:OTHER.LARGE.INPUT.TEST.FOR.CHECKMK" in {m.name for m in out.metrics}


def test_damaged_queue_named_by_the_tool_is_critical_and_named() -> None:
    snap = snapshot([fixture_text("mq/ibmmq_amq8149_damaged_named_mq7.txt")])
    for rules in (RULES, replace(RULES, queues=["QL.A"])):
        out = judge(snap, rules)
        assert (out.status, out.summary) == (Status.CRITICAL, "IBM MQ: 队列 QL.A 已损坏")
        assert out.details["queues"][0]["state"] == "damaged" and out.metrics == []
    # after rcrmqobj the same queue is back with its depth
    good = judge(snapshot([fixture_text("mq/ibmmq_display_qlocal_all_recovered_mq7.txt")]),
                 replace(RULES, queues=["QL.A"]))
    assert (good.status, good.summary) == (Status.OK, "IBM MQ: 1 个队列正常, 共积压 1 条 (最多 QL.A 1 条)")


def test_damaged_object_the_tool_does_not_name() -> None:
    """MQ 9 prints AMQ8149S without the name: X0 is missing from `dis q(X*)` and `dis qs(X*)`,
    listed only by the names-only `dis ql(X*)`; that, and no more, is what the check says."""
    snap = snapshot([fixture_text("mq/ibmmq_amq8149s_damaged_mq9.txt")])
    out = judge(snap, replace(RULES, queues=["X0", "X1", "X2", "X9"]))
    assert out.status == Status.CRITICAL
    assert out.summary == ("IBM MQ: 报告有对象已损坏, 输出未指明是哪个 (AMQ8149S: IBM MQ object damaged.); "
                           "队列未列出: X9 (可能原因: 报告有对象已损坏 (AMQ8149S)); "
                           "队列 X0 可能已损坏 (AMQ8149S 未指明对象; 此队列列出了名称却没有深度)")
    assert "不存在" not in out.summary and out.summary.count("object damaged") == 1
    assert {m.name for m in out.metrics} == {"queue_depth:X1", "queue_depth:X2"}
    # all queues judged (no `queues`): the suspect is named just the same
    assert "队列 X0 可能已损坏" in judge(snap, RULES).summary


def test_queue_of_a_stopped_queue_manager_is_not_called_absent() -> None:
    snap = snapshot([fixture_text("mq/ibmmq_checkmk_qlocal_qstatus_1.txt")])
    out = judge(snap, replace(RULES, queues=["FOO.QUEUE"]))
    assert out.status == Status.CRITICAL and "不存在" not in out.summary
    assert ("队列未列出: FOO.QUEUE (可能原因: 队列管理器 FOO.BAR 不可用 (AMQ8146); "
            "队列管理器 FOO.BAR 状态 ENDED UNEXPECTEDLY)") in out.summary


# -- the command path: a fake runmqsc (a real process) serving real captured output -----------

def _fake(tmp_path: Path, name: str, fixture: str, exit_code: int = 0) -> Path:
    served = tmp_path / f"{name}.out"
    served.write_bytes(fixture_text(f"mq/{fixture}").encode("utf-8"))
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\necho \"$@\" > '{tmp_path}/{name}.argv'\n"
                      f"cat > '{tmp_path}/{name}.stdin'\ncat '{served}'\nexit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def mq(**kw: object) -> MqCheck:
    return MqCheck(build(MqOptions, {"source": "ibmmq", **kw}, "checks[0]"))


def test_fake_runmqsc_end_to_end(tmp_path: Path) -> None:
    runmqsc = _fake(tmp_path, "runmqsc", "ibmmq_checkmk_qlocal_qstatus_3_monq_off.txt", exit_code=0)
    dspmq = _fake(tmp_path, "dspmq", "ibmmq_dspmq_4.txt")
    out = mq(command=[str(runmqsc), "MY.TEST"], status_commands=[[str(dspmq), "-m", "QM3"]],
             min_consumers=1).run()
    assert out.status == Status.OK, out.summary
    assert (tmp_path / "runmqsc.argv").read_text().strip() == "MY.TEST"
    assert "DISPLAY QSTATUS(*) TYPE(QUEUE)" in (tmp_path / "runmqsc.stdin").read_text()
    names = {m.name: m.value for m in out.metrics}
    assert names == {"queue_depth:MY.QUEUE": 0, "depth_percent:MY.QUEUE": 0.0, "consumers:MY.QUEUE": 2}
    # MY.TEST from the Checkmk section's own dspmq line, QM3 from the dspmq command
    assert out.summary == "IBM MQ: 1 个队列正常, 共积压 0 条, 队列管理器 2 个运行正常"


def test_fake_runmqsc_depth_percent_and_failed_qmgr(tmp_path: Path) -> None:
    runmqsc = _fake(tmp_path, "runmqsc", "ibmmq_checkmk_qlocal_qstatus_1.txt", exit_code=20)
    out = mq(command=[str(runmqsc)], percent_warn="0.5", queues=["OTHER.LARGE.INPUT.TEST.FOR.CHECKMK"]).run()
    assert out.status == Status.CRITICAL  # FOO.BAR ended unexpectedly, AMQ8146
    assert "队列管理器 FOO.BAR 不可用 (AMQ8146" in out.summary and "FOO.BAR 状态 ENDED UNEXPECTEDLY" in out.summary
    assert "深度达到上限的 1% (1400/200000)" in out.summary
    pct = {m.name: m for m in out.metrics}["depth_percent:OTHER.LARGE.INPUT.TEST.FOR.CHECKMK"]
    assert pct.value == 0.7 and pct.unit == "%"


def test_fake_runmqsc_missing_queue_and_stopped_channel(tmp_path: Path) -> None:
    runmqsc = _fake(tmp_path, "runmqsc", "ibmmq_checkmk_chstatus_1_not_found.txt", exit_code=10)
    out = mq(command=[str(runmqsc)], queues=["Q.VOUCHER.IN"], channels=["HERE.TO.THERE.TWO"]).run()
    assert out.status == Status.CRITICAL
    assert "队列未列出: Q.VOUCHER.IN (输出中没有该队列)" in out.summary  # no queue listing at all
    assert "通道 HERE.TO.THERE.TWO 未运行" in out.summary


def test_command_missing_and_timeout(tmp_path: Path) -> None:
    out = mq(command=[str(tmp_path / "no-such-runmqsc")]).run()
    assert out.status == Status.UNKNOWN and "命令不存在" in out.summary
    slow = tmp_path / "slow"
    slow.write_text(f"#!/bin/sh\nsleep 30 &\necho $! > '{tmp_path}/child.pid'\nwait\n")
    slow.chmod(0o755)
    out = mq(command=[str(slow)], command_timeout="300ms").run()
    assert out.status == Status.UNKNOWN and "命令超时" in out.summary
    child = int((tmp_path / "child.pid").read_text())
    with pytest.raises(ProcessLookupError):  # the whole process group was killed
        for _ in range(50):
            os.kill(child, 0)
            time.sleep(0.05)


def test_fixtures_folder_is_where_the_brief_says() -> None:
    assert FIXTURES.name == "fixtures" and FIXTURES.parent.name == "shared"


def test_truncated_output_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from checks.mq import command

    monkeypatch.setattr(command, "MAX_OUTPUT", 20_000)
    big = tmp_path / "runmqsc"
    big.write_text("#!/bin/sh\ncat > /dev/null\n"
                   "for i in $(seq 1 1000); do "
                   "printf 'AMQ8409I: Display Queue details.\\n   QUEUE(Q.%08d)      TYPE(QLOCAL)\\n"
                   "   CURDEPTH(1)\\n' $i; done\n")
    big.chmod(0o755)
    out = mq(command=[str(big)]).run()
    assert out.status == Status.UNKNOWN and "被截断" in out.summary
    assert 100 < len(out.details["queues"]) + out.details.get("queues_omitted", 0) < 1000
