"""Every real MQ capture (../shared/fixtures/mq and tests/fixtures/mq) through its parser, one
table per parser; a capture added to either folder without a row here fails the coverage test."""
from __future__ import annotations

from typing import Any

import pytest

from checks.mq import ibmmq, rabbitmq, tonglinkq
from checks.mq.model import Snapshot
from tests.helpers.fixtures import FIXTURES, fixture_names, fixture_text

R, E = "RUNNING", "CRITICAL"

# fixture -> (queues as (owner, name, depth, state), links as (kind, name, state, status),
#             problems (status name, text start), objects said missing, hints)
IBMMQ: dict[str, tuple[list[Any], list[Any], list[Any], list[str], int]] = {
    "ibmmq_amq8149_damaged_named_mq7.txt": ([("QMLL", "QL.A", None, "damaged")], [], [], [], 0),
    "ibmmq_amq8146_mqseries_banner_without_qmgr.txt": (
        [], [], [("CRITICAL", "队列管理器不可用 (AMQ8146: MQSeries queue manager not available.)")], [], 1),
    "ibmmq_amq8149s_damaged_mq9.txt": (
        [("", "X0", None, "suspect_damaged"), ("", "X1", 0, ""), ("", "X2", 0, "")], [],
        [("CRITICAL", "报告有对象已损坏, 输出未指明是哪个 (AMQ8149S: IBM MQ object damaged.)")], [], 1),
    "ibmmq_checkmk_chstatus_1_not_found.txt": ([], [("qmgr", "MY.TEST", R, "OK")], [], [], 0),
    "ibmmq_checkmk_chstatus_2_mq9.txt": (
        [], [("qmgr", "MY.TEST", R, "OK"), ("channel", "YYYYYYYYYY.SVRCONN", R, "OK"),
             ("channel", "XXX.XXXX.XXX.SVRCONN", R, "OK")], [], [], 0),
    "ibmmq_checkmk_qlocal_qstatus_1.txt": (
        [("MY.TEST", "MY.LARGE.INPUT.TEST.FOR.CHECKMK", 0, ""),
         ("MY.TEST", "OTHER.LARGE.INPUT.TEST.FOR.CHECKMK", 1400, ""),
         ("MY.TEST", "SYSTEM.ADMIN.ACCOUNTING.QUEUE", 0, "")],
        [("qmgr", "FOO.BAR", "ENDED UNEXPECTEDLY", E), ("qmgr", "MY.TEST", R, "OK")],
        [("CRITICAL", "队列管理器 FOO.BAR 不可用 (AMQ8146: WebSphere MQ queue manager not available.)")],
        [], 2),
    "ibmmq_checkmk_qlocal_qstatus_3_monq_off.txt": (
        [("MY.TEST", "MY.QUEUE", 0, "")], [("qmgr", "MY.TEST", R, "OK")], [], [], 0),
    "ibmmq_display_chstatus_1_svrconn.txt": ([], [("channel", "TEST.CHAN", R, "OK")], [], [], 0),
    "ibmmq_display_chstatus_2_sdr_full_transcript.txt": (
        [], [("channel", "CRC01CRD.A.CRC01CMM", R, "OK")], [], [], 0),
    "ibmmq_display_chstatus_3_all_svrconn_mq94.txt": (
        [], [("channel", "SYSTEM.ADMIN.SVRCONN", R, "OK")], [], [], 0),
    "ibmmq_display_qlocal_1.txt": ([("QM1", "QUEUE1", 1, "")], [], [], [], 0),
    "ibmmq_display_qlocal_2.txt": ([("", "QUEUE1", 200, "")], [], [], [], 0),
    "ibmmq_display_qlocal_all_recovered_mq7.txt": ([("QMLL", "QL.A", 1, "")], [], [], [], 0),
    "ibmmq_display_qmstatus_1.txt": ([], [("qmgr", "QM1", R, "OK")], [], [], 0),
    "ibmmq_display_qstatus_1.txt": ([("QM1", "DEV.QUEUE.1", 1, "")], [], [], [], 0),
    "ibmmq_display_qstatus_2_lget_lput.txt": ([("", "SOURCE.Q", 0, "")], [], [], [], 0),
    "ibmmq_display_qstatus_3_type_handle.txt": ([], [], [], [], 0),
    "ibmmq_dspmq_1.txt": ([], [("qmgr", "DRHAQM1", "Running", "OK")], [], [], 0),
    "ibmmq_dspmq_2.txt": ([], [("qmgr", "RDQM1", "Running", "OK")], [], [], 0),
    "ibmmq_dspmq_3_multi_instance.txt": ([], [("qmgr", "QMMI1", "Running as standby", "OK")], [], [], 0),
    "ibmmq_dspmq_4.txt": ([], [("qmgr", "QM3", "Running", "OK")], [], [], 0),
    "ibmmq_dspmq_5_many_qmgrs_crlf.txt": (
        [], [("qmgr", n, "Running", "OK") for n in (
            "CRC01CRD CRC01CMM CRC03AGN BDV01AGN BOD01AGN BCRB01AGN BBIC01AGN BPLS01AGN BFC01AGN "
            "BCRN01AGN BPLZ01AGN BTES01AGN CRC11AGN VLVN01AGN B100AGN01 BOD02AGN BAV01AGN CRC12AGN "
            "CRC10AGN BEXT01AGN BMBC01AGN CRC14AGN CTK01AGN CRC15AGN").split()], [], [], 0),
    "ibmmq_dspmq_6_ended_normally.txt": (
        [], [("qmgr", "QMA", "Ended normally", E), ("qmgr", "QMB", "Ended normally", E)], [], [], 2),
    "ibmmq_dspmq_7_x_o_all.txt": ([], [("qmgr", "QM1", "Running", "OK")], [], [], 0),
    "ibmmq_dspmq_8_checkmk_five_qmgrs.txt": (
        [], [("qmgr", "THE.LOCAL.ONE", R, "OK"), ("qmgr", "THE.MULTI.INSTANCE.ONE", R, "OK"),
             ("qmgr", "THE.RDQM.ONE", R, "OK"), ("qmgr", "THE.SLEEPING.ONE", "ENDED NORMALLY", E),
             ("qmgr", "THE.CRASHED.ONE", "ENDED UNEXPECTEDLY", E)], [], [], 2),
    "ibmmq_error_amq8147_object_not_found.txt": ([], [], [], ["LISTENER"], 0),
}

# fixture -> (columns passed for output without a header, queues as (owner, name, depth, state, consumers))
RABBITMQ_CTL: dict[str, tuple[Any, list[Any]]] = {
    "rabbitmq_list_queues_1_plain.txt": (None, []),  # only names asked: nothing to judge
    "rabbitmq_list_queues_2_empty.txt": (None, []),
    "rabbitmq_list_queues_3_pretty_table.txt": (None, [("/", "my-stream", 32748214, "", None)]),
    "rabbitmq_list_queues_4_pretty_table_ready_unacked.txt": (
        None, [("", "my-target-queue", 1, "", None), ("", "my-source-queue", 0, "", None)]),
    # RabbitMQ 3.6 printed no header: the asked columns name the cells; no count asked, no queue
    "rabbitmq_list_queues_5_down_queues_issue696.txt": (["name", "state", "durable", "pid"], []),
    "rabbitmq_list_queues_6_ready_unacked_consumers_dlq.txt": (None, [
        ("/", n, 0, "", c) for n, c in (
            ("parking.inventario_queue", 0), ("mesas_queue", 1), ("dlq.pedidos_queue", 0),
            ("dlq.reportes_queue", 0), ("dlq.inventario_queue", 0), ("caja_queue", 1), ("pedidos_queue", 1),
            ("dlq.cuentas_queue", 0), ("inventario_queue", 1), ("dlq.mesas_queue", 0), ("reportes_queue", 1),
            ("notificaciones_queue", 1), ("dlq.caja_queue", 0), ("cuentas_queue", 1))]),
    # one row split by a space instead of a tab: each line is split by what it holds
    "rabbitmq_list_queues_7_mixed_separators.txt": (None, [
        ("/", "new_test", 0, "", None), ("/", "rabbit-test", 10, "", None), ("/", "test", 0, "", None)]),
}
RABBITMQ_API: dict[str, list[Any]] = {
    "rabbitmq_api_queues_1_v3.6.8.json.txt": [
        ("/", "amq.gen---WBD642a0yMDq25x3DpvQ", 1, "running", 0),
        ("/", "amq.gen-AZWct5711RRwY4HXRtU-8w", 0, "running", 0),
        ("/", "amq.gen-vPJMD2iLr8liaiqKRpSt_g", 0, "running", 0)],
    "rabbitmq_api_queues_2_v3.7.0.json.txt": [
        ("/", "amq.gen-1Nb3tSVlcjin_u_k_8Ur_A", 0, "running", 0),
        ("/", "amq.gen-_uN9uFRYxbcWkNXY8GsCmQ", 0, "running", 0),
        ("/", "amq.gen-qgYEo5W8l7zlozrznGMVdA", 0, "running", 0)],
    "rabbitmq_api_queues_3_telegraf_one_queue.json.txt": [
        ("sorandomsorandom", "reply_a716f0523cd44941ad2ea6ce4a3869c3", 44, "running", 3)],
}
# fixture -> (queues as (name, depth, consumers, kind), links as (kind, name, state, status))
TONGLINKQ: dict[str, tuple[list[Any], list[Any]]] = {
    "tonglinkq_tlqstat_qcu_c_1.txt": (
        [("lq", 2, 0, "local")] + [(f"TLQ.SYS.{n}", 0, 0, "local") for n in (
            "EVENT", "DEAD", "BROKER.CONTROL", "BROKER.SYN", "BROKER.SUB", "BROKER.SUBREQ")]
        + [("sq", 0, None, "send")], []),
    "tonglinkq_tlqstat_rcv_1.txt": ([], [("recv_conn", "t172.100.3.112_65f2b17a", "active", "OK")]),
    "tonglinkq_tlqstat_snd_1.txt": ([], [("send_conn", "conn1", "active/link", "OK")]),
}


def _links(snap: Snapshot) -> list[tuple[str, str, str, str]]:
    return [(lk.kind, lk.name, lk.state, lk.status.name) for lk in snap.links]


def test_every_capture_has_a_row() -> None:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    tables = set(IBMMQ) | set(RABBITMQ_CTL) | set(RABBITMQ_API) | set(TONGLINKQ)
    assert set(fixture_names("mq")) == tables


@pytest.mark.parametrize("name", sorted(IBMMQ))
def test_ibmmq(name: str) -> None:
    queues, links, problems, missing, hints = IBMMQ[name]
    snap = ibmmq.snapshot([fixture_text(f"mq/{name}")])
    assert sorted((q.owner, q.name, q.depth, q.state) for q in snap.queues) == sorted(queues)
    assert _links(snap) == links
    assert [(s.name, t) for s, t in snap.problems] == problems
    assert snap.missing == missing
    assert len(snap.unlisted_hints) == hints


@pytest.mark.parametrize("name", sorted(RABBITMQ_CTL))
def test_rabbitmqctl(name: str) -> None:
    columns, queues = RABBITMQ_CTL[name]
    snap = rabbitmq.snapshot_from_ctl([fixture_text(f"mq/{name}")], columns)
    assert [(q.owner, q.name, q.depth, q.state, q.consumers) for q in snap.queues] == queues


@pytest.mark.parametrize("name", sorted(RABBITMQ_API))
def test_rabbitmq_api(name: str) -> None:
    got = rabbitmq.parse_api_queues(fixture_text(f"mq/{name}"))
    assert [(q.owner, q.name, q.depth, q.state, q.consumers) for q in got] == RABBITMQ_API[name]


@pytest.mark.parametrize("name", sorted(TONGLINKQ))
def test_tonglinkq(name: str) -> None:
    queues, links = TONGLINKQ[name]
    snap = tonglinkq.snapshot([fixture_text(f"mq/{name}")])
    assert [(q.name, q.depth, q.consumers, q.kind) for q in snap.queues] == queues
    assert _links(snap) == links
