"""``GetHumanReadableSummary``'s text: a deterministic, plain-language reading of a request.

AWS writes the summary with a language model; the sandbox builds it from the same facts the
model is given (the requestor, the session duration and the rendered policy: each statement's
effect, actions, resources and conditions, and the permission boundary of roles it may create),
in the language of the locale asked for. The same request always reads the same.

Locales are those of the AWS Management Console's language menu (the model points there for
the supported strings), as BCP 47 tags; ``en_US`` and ``EN-us`` are read as ``en-US``. Where
the sandbox chooses (the docs are silent): a locale outside this list is ``InvalidInput``;
bare language codes (``en``) are not accepted; with no ``Locale`` the summary is in ``en-US``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vell_core.sandbox import authz

SUMMARY_MAX = 10000  # summaryContentType max
DEFAULT_LOCALE = "en-US"
MAX_LISTED = 6  # actions or resources named per line; beyond that, "and N more"

# The console's languages (locale tag → text table key).
LOCALES: dict[str, str] = {
    "de-DE": "de",
    "en-US": "en",
    "es-ES": "es",
    "fr-FR": "fr",
    "id-ID": "id",
    "it-IT": "it",
    "ja-JP": "ja",
    "ko-KR": "ko",
    "pt-BR": "pt",
    "tr-TR": "tr",
    "zh-CN": "zh-CN",
    "zh-TW": "zh-TW",
}
_BY_FOLDED = {tag.lower(): tag for tag in LOCALES}

SERVICE_NAMES = {
    "aws-marketplace": "AWS Marketplace",
    "iam": "IAM",
    "sts": "AWS STS",
    "s3": "Amazon S3",
    "ec2": "Amazon EC2",
}
VIEW_PREFIXES = ("Describe", "Get", "List", "Search", "View", "Read", "Lookup", "Scan", "Query")
DELETE_PREFIXES = ("Delete", "Remove", "Detach", "Terminate", "Destroy")

TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "intro": "{requestor} (AWS account {account}) asks for temporary access to your AWS "
        "account for {duration}.",
        "clock": "The access starts when you share it and ends by itself {duration} later; it "
        "cannot be extended.",
        "allow": "With this access, {requestor} could:",
        "deny": "Even with this access, {requestor} could never:",
        "view": "View in {service}",
        "change": "Change in {service}",
        "delete": "Delete in {service}",
        "all": "Do anything in {service}",
        "outside": "Do anything outside {services}",
        "except": "Do anything except {actions}",
        "any": "on any resource",
        "only": "only on {resources}",
        "when": "when {key} is {values}",
        "or": "or",
        "more": "and {n} more",
        "boundary": "Any IAM role created with this access is capped by the permission "
        "boundary {arns}.",
        "hours": ("hour", "hours"),
        "minutes": ("minute", "minutes"),
    },
    "de": {
        "intro": "{requestor} (AWS-Konto {account}) bittet um vorübergehenden Zugriff auf Ihr "
        "AWS-Konto für {duration}.",
        "clock": "Der Zugriff beginnt, wenn Sie ihn freigeben, und endet {duration} später von "
        "selbst; er kann nicht verlängert werden.",
        "allow": "Mit diesem Zugriff könnte {requestor}:",
        "deny": "Auch mit diesem Zugriff könnte {requestor} niemals:",
        "view": "In {service} lesen",
        "change": "In {service} ändern",
        "delete": "In {service} löschen",
        "all": "In {service} alles tun",
        "outside": "Alles außerhalb von {services} tun",
        "except": "Alles außer {actions} tun",
        "any": "für jede Ressource",
        "only": "nur für {resources}",
        "when": "wenn {key} gleich {values} ist",
        "or": "oder",
        "more": "und {n} weitere",
        "boundary": "Jede mit diesem Zugriff erstellte IAM-Rolle ist durch die "
        "Berechtigungsgrenze {arns} begrenzt.",
        "hours": ("Stunde", "Stunden"),
        "minutes": ("Minute", "Minuten"),
    },
    "es": {
        "intro": "{requestor} (cuenta de AWS {account}) solicita acceso temporal a su cuenta de "
        "AWS durante {duration}.",
        "clock": "El acceso comienza cuando usted lo comparte y termina solo {duration} "
        "después; no se puede ampliar.",
        "allow": "Con este acceso, {requestor} podría:",
        "deny": "Ni siquiera con este acceso, {requestor} podría nunca:",
        "view": "Ver en {service}",
        "change": "Modificar en {service}",
        "delete": "Eliminar en {service}",
        "all": "Hacer cualquier cosa en {service}",
        "outside": "Hacer cualquier cosa fuera de {services}",
        "except": "Hacer cualquier cosa excepto {actions}",
        "any": "en cualquier recurso",
        "only": "solo en {resources}",
        "when": "cuando {key} es {values}",
        "or": "o",
        "more": "y {n} más",
        "boundary": "Cualquier rol de IAM creado con este acceso queda limitado por el límite "
        "de permisos {arns}.",
        "hours": ("hora", "horas"),
        "minutes": ("minuto", "minutos"),
    },
    "fr": {
        "intro": "{requestor} (compte AWS {account}) demande un accès temporaire à votre compte "
        "AWS pour {duration}.",
        "clock": "L'accès commence lorsque vous le partagez et se termine de lui-même "
        "{duration} plus tard ; il ne peut pas être prolongé.",
        "allow": "Avec cet accès, {requestor} pourrait :",
        "deny": "Même avec cet accès, {requestor} ne pourrait jamais :",
        "view": "Consulter dans {service}",
        "change": "Modifier dans {service}",
        "delete": "Supprimer dans {service}",
        "all": "Tout faire dans {service}",
        "outside": "Tout faire en dehors de {services}",
        "except": "Tout faire sauf {actions}",
        "any": "sur n'importe quelle ressource",
        "only": "uniquement sur {resources}",
        "when": "lorsque {key} vaut {values}",
        "or": "ou",
        "more": "et {n} de plus",
        "boundary": "Tout rôle IAM créé avec cet accès est plafonné par la limite "
        "d'autorisations {arns}.",
        "hours": ("heure", "heures"),
        "minutes": ("minute", "minutes"),
    },
    "id": {
        "intro": "{requestor} (akun AWS {account}) meminta akses sementara ke akun AWS Anda "
        "selama {duration}.",
        "clock": "Akses dimulai saat Anda membagikannya dan berakhir sendiri {duration} "
        "kemudian; akses tidak dapat diperpanjang.",
        "allow": "Dengan akses ini, {requestor} dapat:",
        "deny": "Bahkan dengan akses ini, {requestor} tidak akan pernah dapat:",
        "view": "Melihat di {service}",
        "change": "Mengubah di {service}",
        "delete": "Menghapus di {service}",
        "all": "Melakukan apa saja di {service}",
        "outside": "Melakukan apa saja di luar {services}",
        "except": "Melakukan apa saja kecuali {actions}",
        "any": "pada sumber daya apa pun",
        "only": "hanya pada {resources}",
        "when": "jika {key} adalah {values}",
        "or": "atau",
        "more": "dan {n} lainnya",
        "boundary": "Setiap peran IAM yang dibuat dengan akses ini dibatasi oleh batas izin "
        "{arns}.",
        "hours": ("jam", "jam"),
        "minutes": ("menit", "menit"),
    },
    "it": {
        "intro": "{requestor} (account AWS {account}) chiede un accesso temporaneo al tuo "
        "account AWS per {duration}.",
        "clock": "L'accesso inizia quando lo condividi e termina da solo {duration} dopo; non "
        "può essere prolungato.",
        "allow": "Con questo accesso, {requestor} potrebbe:",
        "deny": "Anche con questo accesso, {requestor} non potrebbe mai:",
        "view": "Visualizzare in {service}",
        "change": "Modificare in {service}",
        "delete": "Eliminare in {service}",
        "all": "Fare qualsiasi cosa in {service}",
        "outside": "Fare qualsiasi cosa al di fuori di {services}",
        "except": "Fare qualsiasi cosa tranne {actions}",
        "any": "su qualsiasi risorsa",
        "only": "solo su {resources}",
        "when": "quando {key} è {values}",
        "or": "o",
        "more": "e altri {n}",
        "boundary": "Ogni ruolo IAM creato con questo accesso è limitato dal limite delle "
        "autorizzazioni {arns}.",
        "hours": ("ora", "ore"),
        "minutes": ("minuto", "minuti"),
    },
    "ja": {
        "intro": "{requestor}（AWS アカウント {account}）が、お客様の AWS アカウントへの "
        "{duration}の一時的なアクセスを求めています。",
        "clock": "アクセスはお客様が共有した時点で始まり、{duration}後に自動的に終了します。"
        "延長はできません。",
        "allow": "このアクセスにより、{requestor} は次のことができます:",
        "deny": "このアクセスがあっても、{requestor} は次のことを決してできません:",
        "view": "{service} の閲覧",
        "change": "{service} の変更",
        "delete": "{service} での削除",
        "all": "{service} のすべての操作",
        "outside": "{services} 以外のすべての操作",
        "except": "{actions} 以外のすべての操作",
        "any": "すべてのリソースが対象",
        "only": "{resources} のみが対象",
        "when": "{key} が {values} の場合",
        "or": "または",
        "more": "ほか {n} 件",
        "boundary": "このアクセスで作成される IAM ロールには、アクセス許可の境界 {arns} が"
        "適用されます。",
        "hours": ("時間", "時間"),
        "minutes": ("分", "分"),
    },
    "ko": {
        "intro": "{requestor}(AWS 계정 {account})이(가) 고객님의 AWS 계정에 대한 {duration} "
        "동안의 임시 액세스를 요청합니다.",
        "clock": "액세스는 고객님이 공유할 때 시작되며 {duration} 후에 자동으로 종료됩니다. "
        "연장할 수 없습니다.",
        "allow": "이 액세스로 {requestor}은(는) 다음을 할 수 있습니다:",
        "deny": "이 액세스가 있어도 {requestor}은(는) 다음을 절대 할 수 없습니다:",
        "view": "{service} 조회",
        "change": "{service} 변경",
        "delete": "{service} 삭제",
        "all": "{service}의 모든 작업",
        "outside": "{services} 외의 모든 작업",
        "except": "{actions} 외의 모든 작업",
        "any": "모든 리소스 대상",
        "only": "{resources}만 대상",
        "when": "{key}이(가) {values}인 경우",
        "or": "또는",
        "more": "외 {n}개",
        "boundary": "이 액세스로 생성된 모든 IAM 역할은 권한 경계 {arns}의 제한을 받습니다.",
        "hours": ("시간", "시간"),
        "minutes": ("분", "분"),
    },
    "pt": {
        "intro": "{requestor} (conta da AWS {account}) solicita acesso temporário à sua conta "
        "da AWS por {duration}.",
        "clock": "O acesso começa quando você o compartilha e termina sozinho {duration} "
        "depois; não pode ser prorrogado.",
        "allow": "Com esse acesso, {requestor} poderia:",
        "deny": "Mesmo com esse acesso, {requestor} nunca poderia:",
        "view": "Visualizar em {service}",
        "change": "Alterar em {service}",
        "delete": "Excluir em {service}",
        "all": "Fazer qualquer coisa em {service}",
        "outside": "Fazer qualquer coisa fora de {services}",
        "except": "Fazer qualquer coisa exceto {actions}",
        "any": "em qualquer recurso",
        "only": "somente em {resources}",
        "when": "quando {key} for {values}",
        "or": "ou",
        "more": "e mais {n}",
        "boundary": "Qualquer função do IAM criada com esse acesso é limitada pelo limite de "
        "permissões {arns}.",
        "hours": ("hora", "horas"),
        "minutes": ("minuto", "minutos"),
    },
    "tr": {
        "intro": "{requestor} (AWS hesabı {account}), AWS hesabınıza {duration} süreyle geçici "
        "erişim istiyor.",
        "clock": "Erişim siz paylaştığınızda başlar ve {duration} sonra kendiliğinden sona "
        "erer; uzatılamaz.",
        "allow": "Bu erişimle {requestor} şunları yapabilir:",
        "deny": "Bu erişimle bile {requestor} şunları asla yapamaz:",
        "view": "{service} içinde görüntüleme",
        "change": "{service} içinde değiştirme",
        "delete": "{service} içinde silme",
        "all": "{service} içinde her şey",
        "outside": "{services} dışında her şey",
        "except": "{actions} dışında her şey",
        "any": "herhangi bir kaynakta",
        "only": "yalnızca {resources} üzerinde",
        "when": "{key} değeri {values} olduğunda",
        "or": "veya",
        "more": "ve {n} tane daha",
        "boundary": "Bu erişimle oluşturulan her IAM rolü {arns} izin sınırıyla kısıtlanır.",
        "hours": ("saat", "saat"),
        "minutes": ("dakika", "dakika"),
    },
    "zh-CN": {
        "intro": "{requestor}（AWS 账户 {account}）请求临时访问您的 AWS 账户，时长 {duration}。",
        "clock": "访问在您共享时开始，并在 {duration}后自动结束，无法延长。",
        "allow": "通过此访问，{requestor} 可以：",
        "deny": "即使有此访问，{requestor} 也绝不能：",
        "view": "查看 {service}",
        "change": "更改 {service}",
        "delete": "删除 {service} 中的内容",
        "all": "在 {service} 中执行任何操作",
        "outside": "在 {services} 之外执行任何操作",
        "except": "执行除 {actions} 之外的任何操作",
        "any": "适用于任何资源",
        "only": "仅适用于 {resources}",
        "when": "当 {key} 为 {values} 时",
        "or": "或",
        "more": "以及另外 {n} 项",
        "boundary": "使用此访问创建的任何 IAM 角色都受权限边界 {arns} 的限制。",
        "hours": ("小时", "小时"),
        "minutes": ("分钟", "分钟"),
    },
    "zh-TW": {
        "intro": "{requestor}（AWS 帳戶 {account}）請求暫時存取您的 AWS 帳戶，時長 {duration}。",
        "clock": "存取在您分享時開始，並在 {duration}後自動結束，無法延長。",
        "allow": "透過此存取，{requestor} 可以：",
        "deny": "即使有此存取，{requestor} 也絕不能：",
        "view": "檢視 {service}",
        "change": "變更 {service}",
        "delete": "刪除 {service} 中的內容",
        "all": "在 {service} 中執行任何操作",
        "outside": "在 {services} 之外執行任何操作",
        "except": "執行 {actions} 以外的任何操作",
        "any": "適用於任何資源",
        "only": "僅適用於 {resources}",
        "when": "當 {key} 為 {values} 時",
        "or": "或",
        "more": "以及另外 {n} 項",
        "boundary": "使用此存取建立的任何 IAM 角色都受許可界限 {arns} 的限制。",
        "hours": ("小時", "小時"),
        "minutes": ("分鐘", "分鐘"),
    },
}


@dataclass(frozen=True)
class SummaryFacts:
    """What the summary is written from (all of it is in the delegation request)."""

    requestor_name: str
    requestor_account: str
    session_duration: int
    permission_policy: str
    boundary_arns: tuple[str, ...] = ()


def resolve_locale(value: str | None) -> str | None:
    """The console locale tag ``value`` names (``None`` → ``en-US``), or None if unsupported."""
    if value is None:
        return DEFAULT_LOCALE
    return _BY_FOLDED.get(value.strip().replace("_", "-").lower())


def summarize(facts: SummaryFacts, locale: str) -> str:
    """The plain-language summary of a request in ``locale`` (a key of ``LOCALES``)."""
    text = TEXT[LOCALES[locale]]
    duration = duration_text(text, facts.session_duration)
    paragraphs = [
        text["intro"].format(
            requestor=facts.requestor_name, account=facts.requestor_account, duration=duration
        ),
        text["clock"].format(duration=duration),
    ]
    statements = authz.as_list(authz.load_policy(facts.permission_policy).get("Statement"))
    for effect, head in (("Allow", "allow"), ("Deny", "deny")):
        lines = [_line(text, s) for s in statements if s.get("Effect") == effect]
        if lines:
            heading = text[head].format(requestor=facts.requestor_name)
            paragraphs.append("\n".join([heading, *lines]))
    if facts.boundary_arns:
        paragraphs.append(text["boundary"].format(arns=", ".join(facts.boundary_arns)))
    return "\n\n".join(paragraphs)[:SUMMARY_MAX]


def duration_text(text: dict[str, Any], seconds: int) -> str:
    """``14400`` → "4 hours" (whole hours), else minutes, in the table's language."""
    if seconds % 3600 == 0:
        count, (one, many) = seconds // 3600, text["hours"]
    else:
        count, (one, many) = max(1, round(seconds / 60)), text["minutes"]
    return f"{count} {one if count == 1 else many}"


def _line(text: dict[str, Any], statement: dict[str, Any]) -> str:
    """One bullet: what may be done, on which resources, under which conditions."""
    if "NotAction" in statement:
        what = _not_action(text, authz.as_list(statement["NotAction"]))
    else:
        what = "; ".join(_action_groups(text, authz.as_list(statement.get("Action"))))
    resources = [str(r) for r in authz.as_list(statement.get("Resource"))]
    scope = (
        text["any"]
        if not resources or "*" in resources
        else text["only"].format(resources=_listing(text, resources))
    )
    conditions = _conditions(text, statement.get("Condition") or {})
    detail = "; ".join([scope, *conditions])
    return f"• {what} ({detail})"


def _action_groups(text: dict[str, Any], actions: list[Any]) -> list[str]:
    """Actions grouped by service and kind: "View in AWS Marketplace: ListEntities, …"."""
    groups: dict[tuple[str, str], list[str]] = {}
    for action in (str(a) for a in actions):
        prefix, _, name = action.partition(":")
        service = SERVICE_NAMES.get(prefix.lower(), prefix)
        kind = _kind(name)
        groups.setdefault((kind, service), [])
        if kind != "all":
            groups[(kind, service)].append(name)
    parts = []
    for (kind, service), names in groups.items():
        label = text[kind].format(service=service)
        parts.append(f"{label}: {_listing(text, sorted(names))}" if names else label)
    return parts


def _kind(action_name: str) -> str:
    if action_name in ("*", ""):
        return "all"
    if action_name.startswith(VIEW_PREFIXES):
        return "view"
    if action_name.startswith(DELETE_PREFIXES):
        return "delete"
    return "change"


def _not_action(text: dict[str, Any], actions: list[Any]) -> str:
    """``NotAction``: everything outside whole services, or everything but named actions."""
    names = [str(a) for a in actions]
    if all(a.endswith(":*") for a in names):
        services = [SERVICE_NAMES.get(a.split(":")[0].lower(), a.split(":")[0]) for a in names]
        return text["outside"].format(services=_listing(text, services))
    return text["except"].format(actions=_listing(text, names))


def _conditions(text: dict[str, Any], condition: dict[str, Any]) -> list[str]:
    """Each condition key with its allowed values, in the table's words."""
    found = []
    for _operator, pairs in condition.items():
        for key, values in (pairs or {}).items():
            shown = f" {text['or']} ".join(str(v) for v in authz.as_list(values))
            found.append(text["when"].format(key=key, values=shown))
    return found


def _listing(text: dict[str, Any], items: list[str]) -> str:
    """Every item when there are few, else the first ones and "and N more" (N ≥ 2)."""
    if len(items) <= MAX_LISTED:
        return ", ".join(items)
    kept = MAX_LISTED - 1
    return ", ".join(items[:kept]) + " " + text["more"].format(n=len(items) - kept)
