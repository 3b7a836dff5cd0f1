"""The web console every node serves at ``/ui``: server-rendered pages (no build step), Chinese and English.

Pages: dashboard, blocks and transactions, a record's provenance with a "verify from genesis" check, guarantee
lookup, the QR page a bank shows, members and governance. ``POST /v1/verify/record`` is the check behind the
verify button: the anchoring transaction's receipt proof, verified with the SDK's light client from the genesis
alone, and — when the visitor pastes the record and salt they received — the salted SM3 commitment.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from chain_sdk.contracts import ADDRESSES
from chain_sdk.verify import Event, Genesis, decode_events, verify_proof
from node.api.encoding import parse_bytes
from node.api.problems import Problem
from node.service import NodeService
from node.views import view

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/v1/verify", tags=["verify"])

LABELS = {
    "en": {"title": "YiLian Chain console", "dashboard": "Dashboard", "blocks": "Blocks", "members": "Members", "guarantees": "Guarantees",
           "records": "Records", "qr": "Authorization QR", "height": "Height", "latency": "Finality latency", "tps": "Transactions/s",
           "validators": "Validators", "peers": "Peers", "mempool": "Waiting transactions", "last_vote": "Signed the last block",
           "yes": "yes", "no": "no", "connected": "connected", "block": "Block", "time": "Time", "txs": "Transactions",
           "proposer": "Proposer", "hash": "Hash", "signers": "Signed by", "tx": "Transaction", "status": "Status", "events": "Events",
           "sender": "Sender", "to": "To", "record": "Record", "owner": "Owner", "custodian": "Custodian", "version": "Version",
           "commitment": "Commitment", "history": "History", "access_log": "Access log", "verify": "Verify from genesis",
           "paste": "Paste the record (JSON) and its salt as you received them to check them too (optional):", "salt": "Salt",
           "number": "Guarantee number", "lookup": "Look up", "valid": "valid", "invalid": "not valid", "amount": "Amount",
           "institution": "Institution", "enterprise": "Enterprise", "beneficiary": "Beneficiary", "not_after": "Valid until",
           "requester": "Requester", "purpose": "Purpose", "scope": "Scope", "expires": "Expires", "uses": "Uses",
           "scan": "Scan with the YiLian wallet", "name": "Name", "role": "Role", "active": "Active", "proposals": "Proposals",
           "action": "Action", "subject": "Subject", "votes": "Votes", "executed": "Executed", "none": "none",
           "not_found": "Not found", "chain": "Chain", "node": "Node", "revoked": "Revoked", "type": "Type"},
    "zh": {"title": "易链控制台", "dashboard": "总览", "blocks": "区块", "members": "成员", "guarantees": "保函", "records": "数据记录",
           "qr": "授权二维码", "height": "区块高度", "latency": "确认时延", "tps": "每秒交易", "validators": "验证节点", "peers": "对等节点",
           "mempool": "待打包交易", "last_vote": "签署最新区块", "yes": "是", "no": "否", "connected": "已连接", "block": "区块",
           "time": "时间", "txs": "交易", "proposer": "出块节点", "hash": "哈希", "signers": "签名节点", "tx": "交易", "status": "状态",
           "events": "事件", "sender": "发送方", "to": "接收方", "record": "记录", "owner": "所有者", "custodian": "保管中心",
           "version": "版本", "commitment": "承诺值", "history": "历史", "access_log": "访问日志", "verify": "从创世块验证",
           "paste": "可粘贴收到的记录（JSON）和盐值一并核验（可选）：", "salt": "盐值", "number": "保函编号", "lookup": "查询",
           "valid": "有效", "invalid": "无效", "amount": "金额", "institution": "金融机构", "enterprise": "企业", "beneficiary": "受益人",
           "not_after": "有效期至", "requester": "请求方", "purpose": "用途", "scope": "范围", "expires": "过期时间", "uses": "次数",
           "scan": "请使用易链钱包扫码", "name": "名称", "role": "角色", "active": "有效", "proposals": "治理提案", "action": "动作",
           "subject": "对象", "votes": "票数", "executed": "已执行", "none": "无", "not_found": "未找到", "chain": "链", "node": "节点",
           "revoked": "已撤销", "type": "类型"},
}
ROLES = ("—", "center", "financial institution", "certificate authority", "auditor")
ACTIONS = ("AddCenter", "RemoveCenter", "AddInstitution", "RemoveInstitution", "AddCA", "RemoveCA", "AddAuditor", "RemoveAuditor",
           "Blacklist", "Unblacklist")
STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:0;background:#f5f7fa;color:#1d2733}
header{background:#0b3d6e;color:#fff;padding:10px 20px;display:flex;gap:18px;align-items:center;flex-wrap:wrap}
header a{color:#cfe3ff;text-decoration:none}header b{font-size:18px;margin-right:12px}
main{padding:16px 20px;max-width:1200px}h2{margin:8px 0 12px}
table{border-collapse:collapse;background:#fff;margin:8px 0 18px;width:100%}td,th{border:1px solid #dde3ea;padding:5px 8px;text-align:left;
font-size:14px;vertical-align:top}th{background:#eef3f8}.mono{font-family:ui-monospace,monospace;word-break:break-all}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:10px 16px;min-width:150px}
.card .v{font-size:24px;font-weight:600}.ok{color:#137333}.bad{color:#b3261e}textarea,input{font-family:ui-monospace,monospace;width:100%}
button{background:#0b3d6e;color:#fff;border:0;padding:8px 16px;border-radius:4px;cursor:pointer}
"""


def _service(request: Request) -> NodeService:
    return request.app.state.service


def _lang(request: Request) -> str:
    chosen = request.query_params.get("lang")
    if chosen in LABELS:
        return chosen
    return "zh" if request.headers.get("accept-language", "").lower().startswith("zh") else "en"


def _e(value: Any) -> str:
    return html.escape(str(value))


def _hex(value: bytes | None) -> str:
    return "" if value is None else "0x" + value.hex()


def _page(request: Request, title: str, body: str, *, refresh: int = 0) -> HTMLResponse:
    lang = _lang(request)
    t = LABELS[lang]
    other = "en" if lang == "zh" else "zh"
    query = f"?lang={lang}"
    nav = "".join(f'<a href="/ui{path}{query}">{_e(t[key])}</a>' for path, key in
                  (("", "dashboard"), ("/blocks", "blocks"), ("/members", "members"), ("/guarantees", "guarantees")))
    url = request.url.path + "?" + "&".join([f"{k}={_e(v)}" for k, v in request.query_params.items() if k != "lang"] + [f"lang={other}"])
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return HTMLResponse(f"""<!doctype html><html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">{meta}
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{_e(title)} · {_e(t['title'])}</title><style>{STYLE}</style></head>
<body><header><b>{_e(t['title'])}</b>{nav}<a href="{url}" id="lang">{'English' if lang == 'zh' else '中文'}</a></header>
<main><h2>{_e(title)}</h2>{body}</main></body></html>""")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr>" if any(headers) else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def contract_events(service: NodeService, contract: str, topics: list[list[bytes] | None], genesis: Genesis) -> list[tuple[int, bytes, Event]]:
    """Decoded events of a system contract matching ``topics`` over the whole chain (in 10,000-block windows)."""
    from node.service import MAX_LOG_RANGE

    address = bytes.fromhex(ADDRESSES[contract][2:])
    found = []
    head = service.chain.height
    for start in range(0, head + 1, MAX_LOG_RANGE):
        for log in service.logs(start, min(head, start + MAX_LOG_RANGE - 1), [address], topics):
            (event,) = decode_events([[log.address, list(log.topics), log.data]], genesis.contracts)
            found.append((log.height, log.tx_hash, event))
    return found


def _genesis(request: Request) -> Genesis:
    """The light client's view of this chain's genesis (made once, when the app is created)."""
    return request.app.state.light_genesis


def _args(event: Event) -> str:
    return ", ".join(f"{_e(k)}={_e(_hex(v) if isinstance(v, bytes) else v)}" for k, v in event.args.items())


# -- pages ------------------------------------------------------------------------------------------------


@router.get("/ui", response_class=HTMLResponse)
def dashboard(request: Request, service: NodeService = Depends(_service)) -> HTMLResponse:
    t = LABELS[_lang(request)]
    status = service.status()
    store = service.chain.store
    head = status["height"]
    first = max(1, head - 20)
    span_ms = (store.header(head).time_ms - store.header(first - 1).time_ms) if head >= 1 else 0  # type: ignore[union-attr]
    txs = sum(store.header(h).tx_count for h in range(first, head + 1)) if head >= 1 else 0  # type: ignore[union-attr]
    tps = txs / (span_ms / 1000) if span_ms > 0 else 0.0
    metrics = getattr(request.app.state, "metrics", None)
    last = getattr(metrics, "last_commit", {}) or {}
    latency = f"{last['latency_s'] * 1000:.0f} ms" if "latency_s" in last else "—"
    certificate = store.certificate(head) if head >= 1 else None
    signed = {s.validator for s in certificate.signatures} if certificate else set()
    cards = "".join(f'<div class="card"><div>{_e(t[k])}</div><div class="v" id="{k}">{_e(v)}</div></div>' for k, v in
                    (("height", head), ("latency", latency), ("tps", f"{tps:.1f}"), ("mempool", status["pending_transactions"]),
                     ("peers", len(status["peers"]))))
    validators = _table([t["validators"], t["last_vote"]], [[f'<span class="mono">{_e(v)}</span>',
                        t["yes"] if bytes.fromhex(v[2:]) in signed else t["no"]] for v in status["validators"]])
    peers = _table([t["peers"], t["status"]], [[_e(p), t["connected"]] for p in status["peers"]]) if status["peers"] else ""
    info = (f"<p>{_e(t['node'])}: <b>{_e(status['node'])}</b> · {_e(t['chain'])} {status['chain_id']} ({_e(status['suite'])}) · "
            f"{_e(status['consensus'])}</p>")
    return _page(request, t["dashboard"], info + f'<div class="cards">{cards}</div>' + validators + peers, refresh=3)


@router.get("/ui/blocks", response_class=HTMLResponse)
def blocks(request: Request, service: NodeService = Depends(_service)) -> HTMLResponse:
    t = LABELS[_lang(request)]
    head = service.chain.height
    rows = []
    for height in range(head, max(-1, head - 25), -1):
        block = service.block(height)
        header = block.header
        rows.append([f'<a href="/ui/blocks/{height}?lang={_lang(request)}">{height}</a>',
                     _e(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(header.time_ms / 1000))), str(header.tx_count),
                     f'<span class="mono">{_hex(header.proposer)}</span>'])
    return _page(request, t["blocks"], _table([t["block"], t["time"], t["txs"], t["proposer"]], rows))


@router.get("/ui/blocks/{height}", response_class=HTMLResponse)
def block_page(height: int, request: Request, service: NodeService = Depends(_service)) -> HTMLResponse:
    from node.execution.transactions import decode_transaction

    t = LABELS[_lang(request)]
    block = service.block(height)
    header = block.header
    certificate = service.chain.store.certificate(height)
    rows = [[_e(name), f'<span class="mono">{_e(_hex(value) if isinstance(value, bytes) else value)}</span>']
            for name, value in ((t["hash"], block.hash(service.chain.suite)), ("parent", header.parent_hash), (t["proposer"], header.proposer),
                                ("tx_root", header.tx_root), ("receipt_root", header.receipt_root), ("state_root", header.state_root),
                                ("validators_hash", header.validators_hash), (t["time"], header.time_ms))]
    if certificate:
        rows.append([_e(t["signers"]), "<br>".join(f'<span class="mono">{_hex(s.validator)}</span>' for s in certificate.signatures)])
    txs = []
    for raw in block.transactions:
        tx = decode_transaction(raw, service.chain.suite, service.chain.chain_id)
        txs.append([f'<a class="mono" href="/ui/tx/{_hex(tx.hash)}?lang={_lang(request)}">{_hex(tx.hash)}</a>', _e(tx.kind),
                    f'<span class="mono">{_hex(tx.sender)}</span>', f'<span class="mono">{_hex(tx.to)}</span>'])
    return _page(request, f"{t['block']} {height}", _table(["", ""], rows) + _table([t["tx"], "kind", t["sender"], t["to"]], txs))


@router.get("/ui/tx/{tx_hash}", response_class=HTMLResponse)
def tx_page(tx_hash: str, request: Request, service: NodeService = Depends(_service)) -> HTMLResponse:
    t = LABELS[_lang(request)]
    record, receipt = service.receipt(parse_bytes(tx_hash, "tx_hash", 32))
    events = decode_events([[log.address, list(log.topics), log.data] for log in receipt.logs], _genesis(request).contracts)
    rows = [[_e(t["block"]), f'<a href="/ui/blocks/{record.height}">{record.height}</a>'], [_e(t["sender"]), _hex(record.tx.sender)],
            [_e(t["to"]), _hex(record.tx.to)],
            [_e(t["status"]), f'<span class="{"ok" if receipt.status == 1 else "bad"}">{"success" if receipt.status == 1 else _e(receipt.revert_reason or "reverted")}</span>']]
    listed = _table([t["events"], ""], [[_e(f"{e.contract}.{e.name}"), f'<span class="mono">{_args(e)}</span>'] for e in events])
    return _page(request, f"{t['tx']} {tx_hash[:18]}…", _table(["", ""], rows) + listed)


@router.get("/ui/records/{record_id}", response_class=HTMLResponse)
def record_page(record_id: str, request: Request, service: NodeService = Depends(_service)) -> HTMLResponse:
    t = LABELS[_lang(request)]
    rid = parse_bytes(record_id, "record_id", 32)
    genesis = _genesis(request)
    try:
        owner, custodian, commitment, _type, schema_version, version, revoked, _updated = view(service.chain, "RecordRegistry", "record", rid)
    except LookupError:
        return _page(request, f"{t['record']} {record_id[:18]}…", f"<p class='bad'>{_e(t['not_found'])}</p>")
    facts = _table(["", ""], [[_e(t["owner"]), f'<span class="mono">{_e(owner)}</span>'], [_e(t["custodian"]), f'<span class="mono">{_e(custodian)}</span>'],
                              [_e(t["version"]), str(version)], [_e(t["commitment"]), f'<span class="mono">{_hex(commitment)}</span>'],
                              [_e(t["revoked"]), t["yes"] if revoked else t["no"]]])
    history = contract_events(service, "RecordRegistry", [None, [rid]], genesis)
    accesses = contract_events(service, "Authorization", [None, None, [rid]], genesis) + contract_events(service, "Authorization", [None, [rid]], genesis)
    accesses = [a for a in accesses if a[2].name in ("AccessLogged", "AccessRefused")]
    rows = [[str(height), f'<a class="mono" href="/ui/tx/{_hex(tx)}">{_hex(tx)[:18]}…</a>', _e(e.name), f'<span class="mono">{_args(e)}</span>']
            for height, tx, e in sorted(history)]
    log_rows = [[str(height), _e(e.name), f'<span class="mono">{_args(e)}</span>'] for height, _tx, e in sorted(accesses, key=lambda a: a[0])]
    form = f"""<p>{_e(t['paste'])}</p><textarea id="record" rows="5" placeholder='{{"record_type": …}}'></textarea>
<p>{_e(t['salt'])}</p><input id="salt" placeholder="0x…"><p><button id="verify" onclick="verifyRecord()">{_e(t['verify'])}</button></p>
<pre id="result"></pre><script>
async function verifyRecord() {{
  const out = document.getElementById('result'); out.className = ''; out.textContent = '…';
  const body = {{record_id: {json.dumps(record_id)}}};
  const text = document.getElementById('record').value.trim(), salt = document.getElementById('salt').value.trim();
  if (text) {{ try {{ body.record = JSON.parse(text); }} catch (e) {{ out.className = 'bad'; out.textContent = 'JSON: ' + e; return; }} body.salt = salt; }}
  const response = await fetch('/v1/verify/record', {{method: 'POST', headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify(body)}});
  const answer = await response.json();
  out.className = answer.ok ? 'ok' : 'bad';
  out.textContent = (answer.ok ? '✔ ' : '✘ ') + (answer.checks || []).join('\\n') + (answer.failed ? '\\n' + answer.failed : '') + (answer.detail || '');
}}</script>"""
    body = facts + f"<h3>{_e(t['history'])}</h3>" + _table([t["block"], t["tx"], "", t["events"]], rows)
    body += f"<h3>{_e(t['access_log'])}</h3>" + (_table([t["block"], "", t["events"]], log_rows) if log_rows else f"<p>{_e(t['none'])}</p>")
    return _page(request, f"{t['record']} {record_id[:18]}…", body + form)


@router.get("/ui/guarantees", response_class=HTMLResponse)
def guarantees(request: Request, number: str = "", service: NodeService = Depends(_service)) -> HTMLResponse:
    t = LABELS[_lang(request)]
    form = (f'<form method="get"><input type="hidden" name="lang" value="{_lang(request)}"><p>{_e(t["number"])}</p>'
            f'<input name="number" id="number" value="{_e(number)}"><p><button>{_e(t["lookup"])}</button></p></form>')
    if not number:
        return _page(request, t["guarantees"], form)
    raw = parse_bytes(number, "number", 32)
    valid, status, enterprise, beneficiary, project, amount, not_after, institution = view(service.chain, "Guarantee", "verify", raw)
    statuses = ("None", "Applied", "Rejected", "Cancelled", "Issued", "Released", "Claimed", "PaidOut", "Expired")
    verdict = f'<p id="verdict" class="{"ok" if valid else "bad"}"><b>{_e(t["valid"] if valid else t["invalid"])}</b> ({_e(statuses[status])})</p>'
    facts = _table(["", ""], [[_e(t["enterprise"]), _e(enterprise)], [_e(t["institution"]), _e(institution)], [_e(t["beneficiary"]), _e(beneficiary)],
                              [_e(t["amount"]), f"{amount:,}"], [_e(t["not_after"]), _e(time.strftime("%Y-%m-%d %H:%M", time.localtime(not_after))) if not_after else "—"],
                              ["project", f'<span class="mono">{_hex(project)}</span>']]) if status else ""
    history = contract_events(service, "Guarantee", [None, [raw]], _genesis(request))
    rows = [[str(height), f'<a class="mono" href="/ui/tx/{_hex(tx)}">{_hex(tx)[:18]}…</a>', _e(e.name)] for height, tx, e in sorted(history)]
    return _page(request, f"{t['guarantees']} {number[:18]}…", form + verdict + facts + (_table([t["block"], t["tx"], t["events"]], rows) if rows else ""))


@router.get("/ui/qr", response_class=HTMLResponse)
def qr_page(request: Request, request_uri: str = "", service: NodeService = Depends(_service)) -> HTMLResponse:
    """The page a bank (or a center, for login) shows: its signed request as a QR code, with what it asks for."""
    from chain_sdk import qr
    from chain_sdk.errors import QrRefused

    t = LABELS[_lang(request)]
    request_uri = request_uri or request.query_params.get("request", "")
    try:
        parsed = qr.parse(request_uri, chain_id=service.chain.chain_id, seen=set())
    except QrRefused as exc:
        return _page(request, t["qr"], f'<p class="bad" id="refused">✘ {_e(exc)}</p>')
    facts = _table(["", ""], [[_e(t["requester"]), f"{_e(parsed.requester_name)} <span class='mono'>{_e(parsed.requester)}</span>"],
                              [_e(t["purpose"]), _e(parsed.purpose)], [_e(t["scope"]), _e(", ".join(parsed.record_types + parsed.record_ids))],
                              [_e(t["expires"]), _e(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(parsed.not_after)))],
                              [_e(t["uses"]), str(parsed.max_uses)]])
    return _page(request, t["qr"], f'<p>{_e(t["scan"])}</p><div id="qrcode" style="width:320px;background:#fff">{parsed.to_svg()}</div>' + facts)


@router.get("/ui/members", response_class=HTMLResponse)
def members_page(request: Request, service: NodeService = Depends(_service)) -> HTMLResponse:
    t = LABELS[_lang(request)]
    genesis = _genesis(request)
    addresses = [m.admin for m in service.chain.genesis.members]
    for _height, _tx, event in contract_events(service, "MemberRegistry", [], genesis):
        if event.name == "MemberAdded" and bytes.fromhex(event.args["admin"][2:]) not in addresses:
            addresses.append(bytes.fromhex(event.args["admin"][2:]))
    rows = []
    for address in addresses:
        role, active, name, validator = view(service.chain, "MemberRegistry", "members", "0x" + address.hex())
        if role:
            rows.append([_e(name), _e(ROLES[role]), f'<span class="mono">{_hex(address)}</span>', t["yes"] if active else t["no"]])
    proposals = []
    for index in range(view(service.chain, "MemberRegistry", "proposalCount")):
        action, subject, name, _key, effective, deadline, votes, executed, proposer = view(service.chain, "MemberRegistry", "proposal", index)
        proposals.append([str(index), _e(ACTIONS[action]), f"{_e(name)} <span class='mono'>{_e(subject)}</span>", str(votes),
                          t["yes"] if executed else t["no"]])
    quorum = view(service.chain, "MemberRegistry", "quorum")
    body = _table([t["name"], t["role"], "admin", t["active"]], rows)
    body += f"<h3>{_e(t['proposals'])} (quorum {quorum})</h3>" + (_table(["#", t["action"], t["subject"], t["votes"], t["executed"]], proposals)
                                                                  if proposals else f"<p>{_e(t['none'])}</p>")
    return _page(request, t["members"], body)


# -- the check behind the verify button -------------------------------------------------------------------------


@api.post("/record", summary="Verify a record's anchor from the genesis (and, optionally, a record and salt against it)")
async def verify_record(request: Request, service: NodeService = Depends(_service)) -> dict:
    import asyncio

    try:
        body = await request.json()
    except (ValueError, RecursionError):
        raise Problem(422, "invalid-request", "Invalid request", "the body must be JSON {record_id, record?, salt?}") from None
    if not isinstance(body, dict):
        raise Problem(422, "invalid-request", "Invalid request", "the body must be JSON {record_id, record?, salt?}")
    return await asyncio.to_thread(_verify_record, service, _genesis(request), body)


def _verify_record(service: NodeService, genesis: Genesis, body: dict) -> dict:
    from chain_sdk import records

    record_id = parse_bytes(body.get("record_id") if isinstance(body.get("record_id"), str) else "", "record_id", 32)
    checks: list[str] = []
    history = [h for h in contract_events(service, "RecordRegistry", [None, [record_id]], genesis) if h[2].name in ("Anchored", "Updated", "Revoked")]
    if not history:
        return {"ok": False, "checks": checks, "failed": "no anchor of this record on chain"}
    height, tx_hash, event = sorted(history)[-1]
    proof = service.proof(tx_hash, "receipt")
    verified = verify_proof(genesis, proof)
    proven = [e for e in verified.events if e.name == event.name and e.args.get("recordId") == record_id]
    if not proven:
        return {"ok": False, "checks": checks, "failed": "the proven receipt does not carry the record's event"}
    checks.append(f"{event.name} in block {verified.height}: commit certificate with {verified.signers} of {verified.validators} validator "
                  f"signatures, reached from the genesis through {verified.validator_changes} validator-set change(s)")
    checks.append(f"receipt Merkle path to the block's receipt root: ok ({len(proof['merkle']['path'])} hash(es))")
    if event.name == "Revoked":
        return {"ok": False, "checks": checks, "failed": "the record was revoked"}
    commitment = proven[0].args["commitment"]
    checks.append(f"anchored commitment 0x{commitment.hex()}")
    if "record" in body:
        try:
            salt = bytes.fromhex(str(body.get("salt", "")).removeprefix("0x"))
        except ValueError:
            return {"ok": False, "checks": checks, "failed": "the salt is not hex"}
        if records.commitment(body["record"], salt) != commitment:
            return {"ok": False, "checks": checks, "failed": "the record and salt do NOT match the anchored commitment: altered or wrong salt"}
        checks.append("SM3(salt ‖ canonical record) equals the anchored commitment: the record is exactly what was anchored")
    return {"ok": True, "checks": checks}
