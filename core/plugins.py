"""The plugin manager: a typed facade over pluggy. Nothing else calls ``pm.hook`` directly.

Each entry point of the ``connectors`` group is loaded on its own, so one broken plugin is
recorded as a load error (and listed) while the others keep working.
"""
from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Iterable

import pluggy

from . import hookspecs
from .plugin_api import Application, JobType

log = logging.getLogger(__name__)
GROUP = "connectors"


@dataclass(frozen=True)
class LoadError:
    plugin: str
    error: str
    detail: str = ""


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    applications: tuple[str, ...]
    job_types: tuple[str, ...]


@dataclass
class Registry:
    applications: dict[str, Application] = field(default_factory=dict)
    job_types: dict[str, JobType] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # key -> plugin name


class PluginManager:
    def __init__(self, disabled: Iterable[str] = ()):
        self.disabled = frozenset(disabled)
        self._pm = pluggy.PluginManager("connectors")
        self._pm.add_hookspecs(hookspecs)
        self.load_errors: list[LoadError] = []
        self._plugins: dict[str, tuple[object, EntryPoint | None]] = {}
        self._registry = Registry()

    # -- loading -----------------------------------------------------------------------------
    def load_entry_points(self) -> "PluginManager":
        for ep in entry_points(group=GROUP):
            if ep.name in self.disabled:
                log.info("plugin %s disabled by configuration", ep.name)
                continue
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not take the process down
                self._fail(ep.name, f"could not be imported: {exc!r}", traceback.format_exc())
                continue
            self.add(ep.name, module, ep)
        return self

    def add(self, name: str, plugin: object, entry_point: EntryPoint | None = None) -> bool:
        """Register one plugin and collect what it registers; on any error it is left out."""
        if name in self._plugins or name in self.disabled:
            return False
        try:
            self._pm.register(plugin, name=name)
            self._pm.check_pending()
        except Exception as exc:
            self._unregister(name, plugin)
            self._fail(name, f"invalid hooks: {exc}", traceback.format_exc())
            return False
        try:
            found = self._collect(plugin)
        except Exception as exc:
            self._unregister(name, plugin)
            self._fail(name, f"failed while registering: {exc!r}", traceback.format_exc())
            return False
        self._plugins[name] = (plugin, entry_point)
        for app in found.applications.values():
            self._registry.applications[app.name] = app
            self._registry.owners[app.name] = name
        for jt in found.job_types.values():
            self._registry.job_types[jt.key] = jt
            self._registry.owners[jt.key] = name
        return True

    def _unregister(self, name: str, plugin: object) -> None:
        if self._pm.get_plugin(name) is not None:
            self._pm.unregister(plugin, name=name)

    def _fail(self, name: str, error: str, detail: str = "") -> None:
        log.error("plugin %s not loaded: %s", name, error)
        self.load_errors.append(LoadError(name, error, detail))

    def _collect(self, plugin: object) -> Registry:
        """Call this plugin's hooks alone and validate what it registers."""
        found = Registry()

        def add_app(app: Application) -> None:
            if not isinstance(app, Application):
                raise TypeError(f"register_applications got {type(app).__name__}, not Application")
            if app.name in self._registry.applications or app.name in found.applications:
                raise ValueError(f"duplicate application name {app.name!r}")
            found.applications[app.name] = app

        def add_job_type(jt: JobType) -> None:
            if not isinstance(jt, JobType):
                raise TypeError(f"register_job_types got {type(jt).__name__}, not JobType")
            if jt.key in self._registry.job_types or jt.key in found.job_types:
                raise ValueError(f"duplicate job type key {jt.key!r}")
            if jt.scope not in ("event", "account"):
                raise ValueError(f"job type {jt.key!r}: scope must be 'event' or 'account'")
            found.job_types[jt.key] = jt

        for hook_name, register in (("register_applications", add_app), ("register_job_types", add_job_type)):
            impl = getattr(plugin, hook_name, None)
            if impl is not None:
                impl(register=register)
        for jt in found.job_types.values():
            if jt.application not in found.applications and jt.application not in self._registry.applications:
                raise ValueError(f"job type {jt.key!r} names unknown application {jt.application!r}")
        return found

    # -- queries -----------------------------------------------------------------------------
    @property
    def applications(self) -> dict[str, Application]:
        return dict(self._registry.applications)

    @property
    def job_types(self) -> dict[str, JobType]:
        return dict(self._registry.job_types)

    def application(self, name: str) -> Application:
        try:
            return self._registry.applications[name]
        except KeyError:
            raise KeyError(f"unknown application {name!r}") from None

    def job_type(self, key: str) -> JobType:
        try:
            return self._registry.job_types[key]
        except KeyError:
            raise KeyError(f"unknown job type {key!r}") from None

    def job_types_for(self, application: str | None = None, scope: str | None = None) -> list[JobType]:
        return [
            jt for jt in self._registry.job_types.values()
            if (application is None or jt.application == application) and (scope is None or jt.scope == scope)
        ]

    def plugins(self) -> list[PluginInfo]:
        out = []
        for name, (_plugin, ep) in sorted(self._plugins.items()):
            dist = getattr(ep, "dist", None) if ep else None
            owned = [k for k, owner in self._registry.owners.items() if owner == name]
            out.append(PluginInfo(
                name=name,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
                applications=tuple(k for k in owned if k in self._registry.applications),
                job_types=tuple(k for k in owned if k in self._registry.job_types),
            ))
        return out


def load_plugins(disabled: Iterable[str] = ()) -> PluginManager:
    return PluginManager(disabled).load_entry_points()
