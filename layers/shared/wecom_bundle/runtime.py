"""Per-container wiring: settings → shared token provider → WeCom client, built on first use.

Why lazily: the callback's URL verification (GET) needs none of this, and each piece costs import time
(requests, botocore) that a cold start should only pay when a request really needs it. Why rebuilt when the
corp id, corp secret or API origin change: settings are re-read every ``POWERTOOLS_PARAMETERS_MAX_AGE``
seconds (and at once when WeCom refuses the secret), and a rotated secret must take effect without a redeploy.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeVar

from wecom_bundle import config

if TYPE_CHECKING:
    from wecom_bundle.campaigns.cap import CapCheck
    from wecom_bundle.campaigns.deps import CampaignDeps
    from wecom_bundle.channels.arrivals import Arrivals
    from wecom_bundle.channels.lookup import ChannelLookup
    from wecom_bundle.channels.reconcile import ChannelReconciler
    from wecom_bundle.channels.service import ChannelService
    from wecom_bundle.channels.stats import ChannelStatsReader
    from wecom_bundle.customers.history import CustomerHistory
    from wecom_bundle.customers.quota import QuotaReader
    from wecom_bundle.doctor.service import Doctor
    from wecom_bundle.group_templates.media import TemplateMedia
    from wecom_bundle.group_templates.reconcile import Reconciler
    from wecom_bundle.group_templates.service import GroupTemplateService
    from wecom_bundle.media.cache import MediaCache
    from wecom_bundle.media.refresh import MediaRefresh
    from wecom_bundle.result_sync.deps import SyncDeps
    from wecom_bundle.wecom.client import WeComClient
    from wecom_bundle.welcome.admin import WelcomeAdmin
    from wecom_bundle.welcome.service import WelcomeService

T = TypeVar("T")


class Overrides:
    """What a test substitutes for the container's own (``overriding``); None: the one built here.

    A plain class, not a dataclass: the callback imports this module, and a dataclass costs ~0.5 ms to
    define (measured with ``time.perf_counter``), which a cold start would pay for a test seam."""

    __slots__ = ("cap_check", "channel_lookup", "channels", "group_templates", "media_cache")

    def __init__(
        self,
        media_cache: MediaCache | None = None,
        cap_check: CapCheck | None = None,
        channel_lookup: ChannelLookup | None = None,
        channels: ChannelService | None = None,
        group_templates: GroupTemplateService | None = None,
    ) -> None:
        self.media_cache = media_cache
        self.cap_check = cap_check
        self.channel_lookup = channel_lookup
        self.channels = channels
        self.group_templates = group_templates


_lock = threading.Lock()
_client: WeComClient | None = None
_built_for: tuple[str, str, str, str] = ("", "", "", "")
_media_cache: MediaCache | None = None
_overrides = Overrides()


def _identity(settings: config.WeComSettings) -> tuple[str, str, str, str]:
    return (settings.api_base, settings.corp_id, settings.corp_secret, settings.proxy_url)


def _fetch_token(session: object, timeout: float) -> tuple[str, int]:
    """gettoken with the current settings; a refused secret re-reads the secret (rate-limited) and retries."""
    from wecom_bundle.wecom.client import fetch_token
    from wecom_bundle.wecom.errcodes import SECRET_REFUSED_ERRCODES
    from wecom_bundle.wecom.errors import WeComError

    settings = config.settings()
    try:
        return fetch_token(session, settings.api_base, settings.corp_id, settings.corp_secret, timeout)  # type: ignore[arg-type]
    except WeComError as exc:
        if exc.errcode not in SECRET_REFUSED_ERRCODES or not config.reread_after_rejection():
            raise
    settings = config.settings()
    return fetch_token(session, settings.api_base, settings.corp_id, settings.corp_secret, timeout)  # type: ignore[arg-type]


def _build(settings: config.WeComSettings) -> WeComClient:
    from wecom_bundle.wecom import token_repo
    from wecom_bundle.wecom.client import WeComClient, new_session
    from wecom_bundle.wecom.setup import REPORTER
    from wecom_bundle.wecom.token_store import SharedTokenProvider, token_scope

    session = new_session(settings.proxy_url)
    tokens = SharedTokenProvider(
        token_scope(settings.corp_id, settings.corp_secret),
        lambda timeout: _fetch_token(session, timeout),
        repo=token_repo,
        reporter=REPORTER,
    )
    return WeComClient(settings.api_base, tokens, session, REPORTER)


def wecom_client() -> WeComClient:
    """The container's WeCom client; a new one (new token scope) once the corp id, secret, origin or proxy
    change."""
    global _client, _built_for
    settings = config.settings()
    with _lock:
        if _client is None or _built_for != _identity(settings):
            _client, _built_for = _build(settings), _identity(settings)
        return _client


def reset_client() -> None:
    """Forget the client and what the media cache remembers: a cold start
    (``local.lambda_runtime.reset_layer_state`` and the SnapStart hooks call this)."""
    global _client, _built_for
    with _lock:
        _client, _built_for = None, ("", "", "", "")
        media = _overrides.media_cache or _media_cache
    if media is not None:
        media.forget()


def _given_or(given: T | None, previous: T | None) -> T | None:
    return previous if given is None else given


@contextlib.contextmanager
def overriding(
    *,
    media_cache: MediaCache | None = None,
    cap_check: CapCheck | None = None,
    channel_lookup: ChannelLookup | None = None,
    channels: ChannelService | None = None,
    group_templates: GroupTemplateService | None = None,
    settings: config.SettingsCache | None = None,
) -> Iterator[None]:
    """The one way a test substitutes a collaborator of the container: within the block, each one given
    replaces the container's (a media cache on the simulator's clock, a cap with chosen capped customers, a
    lookup whose reads fail, a service whose repository fails a write, settings on a fake clock); on leaving,
    what was in force before is back. Blocks nest. Services built on the media cache are rebuilt on entry
    and exit, so every user shares the one in force.

    Why one typed seam and not a setter per service: a test cannot leave a substitute installed by
    forgetting to put the previous one back, and mypy checks what each substitute is.
    """
    global _overrides
    with _lock:
        previous = _overrides
        _overrides = Overrides(
            media_cache=_given_or(media_cache, previous.media_cache),
            cap_check=_given_or(cap_check, previous.cap_check),
            channel_lookup=_given_or(channel_lookup, previous.channel_lookup),
            channels=_given_or(channels, previous.channels),
            group_templates=_given_or(group_templates, previous.group_templates),
        )
    previous_settings = config.replace_settings(settings) if settings is not None else None
    if media_cache is not None:
        _forget_media_users()
    try:
        yield
    finally:
        with _lock:
            _overrides = previous
        if previous_settings is not None:
            config.replace_settings(previous_settings)
        if media_cache is not None:
            _forget_media_users()


def reset() -> None:
    """Forget the wiring (tests change settings and endpoints between cases) and the media cache's memory."""
    reset_client()
    config.settings.cache_clear()


# Services receive their collaborators (repository, WeCom API, clock, sleep, settings); the builders below
# assemble them once per container. Imports stay inside each builder: the callback pays only for its own.


# ----------------------------------------------------------------------------------------------- welcome
@functools.lru_cache(maxsize=1)
def welcome_service() -> WelcomeService:
    """The container's welcome service: the welcome repository, a rule cache on it, the WeCom client and its
    welcome API area, the settings. Built on the first add-contact event (URL verification and other events
    never pay for it)."""
    from wecom_bundle.wecom import welcome as wecom_welcome
    from wecom_bundle.welcome import repo
    from wecom_bundle.welcome.rules import RuleCache
    from wecom_bundle.welcome.service import WelcomeService, WelcomeSettings

    rules = RuleCache(repo.list_rules, config.env_float("WELCOME_RULES_CACHE_SECONDS", 5.0))
    return WelcomeService(
        wecom_client(), rules, WelcomeSettings.from_env(), repo=repo, api=wecom_welcome, media=media_cache()
    )


# ----------------------------------------------------------------------------------------------- channels
def channel_lookup() -> ChannelLookup:
    """The callback's channels by State: one GetItem per State per ``CHANNEL_CACHE_SECONDS`` (default 10 s),
    absent channels remembered as long; or the one a test substitutes (``overriding``)."""
    return _overrides.channel_lookup or _built_channel_lookup()


@functools.lru_cache(maxsize=1)
def _built_channel_lookup() -> ChannelLookup:
    from wecom_bundle.channels.lookup import DEFAULT_TTL_S, ChannelLookup

    return ChannelLookup(ttl_s=config.env_float("CHANNEL_CACHE_SECONDS", DEFAULT_TTL_S))


@functools.lru_cache(maxsize=1)
def channel_arrivals() -> Arrivals:
    """After a channel's welcome: counters and tags (``mark_tag`` within ``CHANNEL_TAG_BUDGET_MS``); losses."""
    from wecom_bundle.channels import stats_repo
    from wecom_bundle.channels.arrivals import DEFAULT_TAG_BUDGET_MS, Arrivals
    from wecom_bundle.channels.stats import stats_timezone
    from wecom_bundle.wecom import tags

    return Arrivals(
        wecom_client,
        stats_timezone(),
        repo=stats_repo,
        api=tags,
        tag_budget_ms=config.env_int("CHANNEL_TAG_BUDGET_MS", DEFAULT_TAG_BUDGET_MS),
    )


@functools.lru_cache(maxsize=1)
def channel_stats_reader() -> ChannelStatsReader:
    """The admin API's channel stats: ``channel_stats_reader()(channel_id, now)``, the last 30 days in
    ``WELCOME_TIMEZONE``, oldest first, with totals."""
    from wecom_bundle.channels import stats_repo
    from wecom_bundle.channels.stats import ChannelStatsReader, stats_timezone

    return ChannelStatsReader(stats_repo.query_stats, stats_timezone())


@functools.lru_cache(maxsize=1)
def welcome_admin() -> WelcomeAdmin:
    """The admin API's welcome operations: the welcome repository, the media cache (bucket objects must exist,
    saving warms their ids), the container's WeCom client (asked per save) and the wall clock."""
    from wecom_bundle.welcome import repo
    from wecom_bundle.welcome.admin import WelcomeAdmin

    return WelcomeAdmin(repo, media_cache(), wecom_client, time.time)


# ----------------------------------------------------------------------------------------------- campaigns
def campaign_deps() -> CampaignDeps:
    """The campaign services' collaborators: the repositories, the container's media cache, its WeCom
    client (built when a call is about to be made, so a refused body costs no token fetch) and the
    per-customer cap (asked only by a preview or a ``skip_capped`` create)."""
    from wecom_bundle.campaigns import reminder_repo
    from wecom_bundle.campaigns import repo as campaign_repo
    from wecom_bundle.campaigns.deps import CampaignDeps
    from wecom_bundle.result_sync import repo as sync_repo

    return CampaignDeps(
        repo=campaign_repo,
        reminders=reminder_repo,
        sync_repo=sync_repo,
        media=media_cache(),
        wecom=wecom_client,
        cap=cap_check,
    )


def cap_check() -> CapCheck:
    """The per-customer mass-send cap the campaign services ask (preview, ``skip_capped``): the one a test
    substitutes (``overriding``), else the customers package's counters."""
    return _overrides.cap_check or _built_cap_check()


def _built_cap_check() -> CapCheck:
    """The customers package's counters, as the campaigns ask them. Built per call like ``quota_reader``
    (a small value): the rule is read from the settings each time."""
    from wecom_bundle.customers.quota import AudienceCap

    return AudienceCap.of(quota_reader())


def sync_deps() -> SyncDeps:
    """The result sync's collaborators: its repository, the campaigns' (msgid registry, repair), the queue."""
    from wecom_bundle.result_sync import queue
    from wecom_bundle.result_sync import repo as sync_repo
    from wecom_bundle.result_sync.deps import SyncDeps

    return SyncDeps(repo=sync_repo, campaigns=campaign_deps(), send_messages=queue.send, wecom=wecom_client)


# ----------------------------------------------------------------------------------------------- customers
def quota_reader() -> QuotaReader:
    """The cap as configured (``MASS_SEND_CUSTOMER_LIMIT`` in ``WELCOME_TIMEZONE``) on the customers'
    repository; pending rows are looked for as far back as the result sync still syncs a task. Built per
    call (a small value): the settings are read each time, so a test's environment is what it gets."""
    from wecom_bundle.customers import repo
    from wecom_bundle.customers.quota import QuotaReader
    from wecom_bundle.result_sync.cadence import Cadence

    return QuotaReader(
        repo=repo,
        rule=config.customer_limit_rule(),
        tz=config.welcome_timezone(),
        pending_window_s=Cadence.from_env().daily_until_s,
    )


def customer_history() -> CustomerHistory:
    """One customer's history (the admin API): welcomes through the welcome admin, rows and the quota."""
    from wecom_bundle.customers import repo
    from wecom_bundle.customers.history import CustomerHistory

    def welcomes(external_userid: str, limit: int) -> list[dict]:
        listing = welcome_admin().list_welcomes({"external_userid": external_userid, "limit": str(limit)})
        return list(listing["items"])

    return CustomerHistory(repo, quota_reader(), welcomes, time.time)


# ----------------------------------------------------------------------------------------------- group templates
def _epoch_ms() -> int:
    return int(time.time() * 1000)


def media_cache() -> MediaCache:
    """The container's media cache (its memory lives as long as the container): built on first use on the
    media repository, the bucket and the wall clock, or the one a test substitutes (``overriding``)."""
    global _media_cache
    with _lock:
        if _overrides.media_cache is not None:
            return _overrides.media_cache
        if _media_cache is None:
            from wecom_bundle.media.cache import MediaCache

            _media_cache = MediaCache()
        return _media_cache


def _forget_media_users() -> None:
    """Forget the services built on the media cache, so every user shares the one now in force."""
    for builder in (
        welcome_service,
        welcome_admin,
        group_template_media,
        _built_group_templates,
        _built_channels,
        media_refresh,
    ):
        builder.cache_clear()


@functools.cache
def group_template_media() -> TemplateMedia:
    """Template media on the mirror's repository and the media cache (the admin API and the refresh)."""
    from wecom_bundle.group_templates import repo
    from wecom_bundle.group_templates.media import TemplateMedia

    return TemplateMedia(repo=repo, cache=media_cache())


def group_templates() -> GroupTemplateService:
    """The admin API's group template service: the one built for this container, or the one a test
    substitutes (``overriding``)."""
    return _overrides.group_templates or _built_group_templates()


@functools.cache
def _built_group_templates() -> GroupTemplateService:
    from wecom_bundle.group_templates import repo
    from wecom_bundle.group_templates.service import GroupTemplateService

    return GroupTemplateService(
        repo=repo, wecom=wecom_client, media=group_template_media(), clock_ms=_epoch_ms
    )


@functools.cache
def group_template_reconcile() -> Reconciler:
    """Drift between WeCom and the group template mirror (the admin API's reconcile route)."""
    from wecom_bundle.group_templates import repo
    from wecom_bundle.group_templates.reconcile import Reconciler

    return Reconciler(repo=repo, wecom=wecom_client, clock_ms=_epoch_ms)


@functools.cache
def media_refresh() -> MediaRefresh:
    """The scheduled media refresh with every content holder as a source: welcome rules, campaigns not yet
    created, group templates (also re-pointed at fresh ids after the uploads: WeCom stores them with ours)."""
    from wecom_bundle.campaigns import repo as campaign_repo
    from wecom_bundle.media.refresh import MediaRefresh, pending_campaign_attachments, rule_attachments
    from wecom_bundle.welcome import repo as welcome_repo

    templates = group_template_media()
    return MediaRefresh(
        sources={
            "welcome_rules": rule_attachments(welcome_repo.list_rules),
            "campaigns": pending_campaign_attachments(campaign_repo.list_campaigns),
            "group_templates": templates.media_attachments,
        },
        after_refresh={"group_templates": templates.refresh_media},
        wecom=wecom_client,
        cache=media_cache(),
    )


# ----------------------------------------------------------------------------------------------- channels
def channels() -> ChannelService:
    """The admin API's channel service: the one built for this container, or the one a test substitutes
    (``overriding``)."""
    return _overrides.channels or _built_channels()


@functools.cache
def _built_channels() -> ChannelService:
    from wecom_bundle.channels import repo
    from wecom_bundle.channels.service import ChannelService

    return ChannelService(repo=repo, wecom=wecom_client, media=media_cache(), clock_ms=_epoch_ms)


@functools.cache
def channel_reconcile() -> ChannelReconciler:
    """Channels against the contact ways WeCom holds (the admin API's reconcile route)."""
    from wecom_bundle.channels import repo
    from wecom_bundle.channels.reconcile import ChannelReconciler

    return ChannelReconciler(repo=repo, wecom=wecom_client, clock_ms=_epoch_ms)


# ------------------------------------------------------------------------------------------------ doctor
def doctor() -> Doctor:
    """The set-up checks with their collaborators: a fresh settings read, the container's WeCom client, the
    callback probe and the table probe. Built per request (the doctor is rare and holds nothing)."""
    from wecom_bundle.doctor import callback_probe, repo
    from wecom_bundle.doctor.service import Doctor, DoctorDeps

    return Doctor(
        DoctorDeps(
            load_settings=config.load_settings,
            settings_source=config.settings_source,
            wecom_client=wecom_client,
            probe_callback=callback_probe.verify_url,
            probe_storage=repo.probe,
        )
    )
