"""Semantic checks of what runs on the cluster: ingress controllers, secrets, external
services, apps."""

from __future__ import annotations

from typing import Any

from compiler.compile.addons import LOCK_FILE, is_pinned
from compiler.compile.load import PathKey
from compiler.compile.model import DEFAULT_NODE_PORTS
from compiler.compile.validate.checker import FieldChecker
from compiler.compile.validate.fields import as_dict, as_int, as_list, as_str, is_ip

NODE_PORT_RANGE = range(30000, 32768)
TLS_KEYS = {"tls.crt", "tls.key"}  # what a kubernetes.io/tls Secret must hold
MAX_TLS_HOSTS = 63  # Gateway spec.listeners has maxItems 64, and one is the HTTP listener
# etcd refuses a request over 1.5 MiB (--max-request-bytes), so no object can hold more;
# one env value may take at most 1 MiB of it.
MAX_ENV_VALUE_BYTES = 1024 * 1024


class WorkloadChecks(FieldChecker):
    """spec.ingress, spec.secrets, spec.externalServices and spec.apps."""

    def run(self, spec: dict[str, Any]) -> None:
        secrets = self.secrets(as_list(spec.get("secrets")))
        services = self.external_services(as_list(spec.get("externalServices")))
        ingress = as_dict(spec.get("ingress"))
        self.ingress(as_dict(ingress.get("nginx")), "nginx")
        self.ingress(as_dict(ingress.get("gateway")), "gateway")
        self.cut_over(ingress)
        if "gateway" in ingress:
            self.gateway_tls_hosts(as_list(spec.get("apps")))
        self.apps(as_list(spec.get("apps")), services, secrets)
        self.addons(as_list(spec.get("addons")))

    def ingress(self, nginx: dict[str, Any], controller: str = "nginx") -> None:
        """ingress-nginx or the gateway: both have the same exposure fields."""
        base = ("spec", "ingress", controller)
        if "replicas" in nginx and nginx.get("kind", "DaemonSet") != "Deployment":
            self.report((*base, "replicas"), "is only valid with kind: Deployment", key=True)
        ports = as_dict(nginx.get("nodePorts"))
        if "nodePorts" in nginx and nginx.get("exposure", "NodePort") != "NodePort":
            self.report((*base, "nodePorts"), "is only valid with exposure: NodePort", key=True)
        seen: dict[int, str] = {}
        for name, value in sorted(ports.items()):
            port = as_int(value)
            if port is None:
                continue
            if port not in NODE_PORT_RANGE:
                self.report(
                    (*base, "nodePorts", name), f"{port} is outside the NodePort range 30000-32767"
                )
            elif port in seen:
                self.report(
                    (*base, "nodePorts", name), f"{port} is already the {seen[port]} node port"
                )
            seen.setdefault(port, name)
        self._tolerations((*base, "tolerations"), as_list(nginx.get("tolerations")))
        self._resources((*base, "resources"), nginx.get("resources"))
        self._source((*base, "source"), as_str(nginx.get("source")))

    def cut_over(self, ingress: dict[str, Any]) -> None:
        """Both controllers at once (a cut-over) must not ask for the same node ports."""
        if "nginx" not in ingress or "gateway" not in ingress:
            return
        nginx, gateway = as_dict(ingress.get("nginx")), as_dict(ingress.get("gateway"))
        if nginx.get("exposure", "NodePort") != "NodePort":
            return
        if gateway.get("exposure", "NodePort") != "NodePort":
            return
        defaults = DEFAULT_NODE_PORTS
        taken = {
            as_int(value): name
            for name, value in {**defaults, **as_dict(nginx.get("nodePorts"))}.items()
        }
        ports = {**defaults, **as_dict(gateway.get("nodePorts"))}
        for name, value in sorted(ports.items()):
            port = as_int(value)
            if port is None or port not in taken:
                continue
            given = name in as_dict(gateway.get("nodePorts"))
            path = ("spec", "ingress", "gateway", *(("nodePorts", name) if given else ()))
            self.report(
                path,
                f"node port {port} ({name}) is already ingress-nginx's {taken[port]} node port; "
                "during a cut-over give the gateway its own nodePorts "
                "(docs/migrate-to-gateway.md)",
                key=not given,
            )

    def gateway_tls_hosts(self, apps: list[Any]) -> None:
        """The Gateway has one HTTPS listener per host, so one certificate per host: two
        apps may share a TLS host only with the same Secret in the same namespace."""
        seen: dict[str, tuple[int, str, str]] = {}
        for i, raw in enumerate(apps):
            app = as_dict(raw)
            ingress = as_dict(app.get("ingress"))
            host, secret = as_str(ingress.get("host")), as_str(ingress.get("tlsSecret"))
            namespace = as_str(app.get("namespace", "default"))
            if host is None or secret is None or namespace is None:
                continue
            if host not in seen:
                seen[host] = (i, namespace, secret)
            elif seen[host][1:] != (namespace, secret):
                other, other_ns, other_secret = seen[host]
                self.report(
                    ("spec", "apps", i, "ingress", "tlsSecret"),
                    f"host {host} already has the certificate {other_ns}/{other_secret} "
                    f"(apps[{other}]); the Gateway serves one certificate per host",
                )
        if len(seen) > MAX_TLS_HOSTS:
            self.report(
                ("spec", "ingress", "gateway"),
                f"the apps have {len(seen)} TLS hosts, but a Gateway has at most 64 listeners "
                f"(one for HTTP and one per TLS host: at most {MAX_TLS_HOSTS} TLS hosts)",
                key=True,
            )

    def addons(self, addons: list[Any]) -> None:
        """Unique names; a source that exists and that kgit.lock pins; overlays that exist."""
        seen: dict[str, int] = {}
        for i, raw in enumerate(addons):
            addon = as_dict(raw)
            base = ("spec", "addons", i)
            name = as_str(addon.get("name"))
            if name is not None and name in seen:
                self.report(
                    (*base, "name"), f"duplicate add-on {name!r} (also addons[{seen[name]}])"
                )
            if name is not None:
                seen.setdefault(name, i)
            source = as_str(addon.get("source"))
            if source is not None and self.tree.is_file(source):
                if not is_pinned(self.tree, source):
                    self.report(
                        (*base, "source"),
                        f"{source!r} is not pinned in {LOCK_FILE}; an add-on's manifest must be "
                        "vendored with `kgit vendor url URL --sha256 HEX`, which pins it",
                    )
            else:
                self._source((*base, "source"), source)
            self._overlay_paths((*base, "overlays"), as_list(addon.get("overlays")))

    def _tolerations(self, base: PathKey, tolerations: list[Any]) -> None:
        # The rules of Kubernetes' validateTolerations (pkg/apis/core/validation).
        for i, raw in enumerate(tolerations):
            toleration = as_dict(raw)
            operator = toleration.get("operator", "Equal")
            if operator == "Exists" and toleration.get("value"):
                self.report((*base, i, "value"), "must be empty when operator is Exists", key=True)
            if not toleration.get("key") and operator != "Exists":
                self.report((*base, i), "a toleration without a key needs operator: Exists")
            if "tolerationSeconds" in toleration and toleration.get("effect") != "NoExecute":
                self.report(
                    (*base, i, "tolerationSeconds"),
                    "is only valid with effect: NoExecute",
                    key=True,
                )

    # apps, external services, secrets ----------------------------------------------

    def secrets(self, secrets: list[Any]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        where: dict[tuple[str, str], int] = {}
        for i, raw in enumerate(secrets):
            secret = as_dict(raw)
            name = as_str(secret.get("name"))
            namespace = as_str(secret.get("namespace", "default"))
            if name is None or namespace is None:
                continue
            ident = (namespace, name)
            if ident in where:
                self.report(
                    ("spec", "secrets", i, "name"),
                    f"duplicate secret {name!r} in namespace {namespace!r} "
                    f"(also secrets[{where[ident]}])",
                )
                continue
            where[ident] = i
            found[ident] = secret
        return found

    def external_services(self, services: list[Any]) -> dict[tuple[str, str], int]:
        seen: dict[tuple[str, str], int] = {}
        for i, raw in enumerate(services):
            service = as_dict(raw)
            base = ("spec", "externalServices", i)
            name = as_str(service.get("name"))
            namespace = as_str(service.get("namespace", "default"))
            if name is not None and namespace is not None:
                if (namespace, name) in seen:
                    self.report(
                        (*base, "name"),
                        f"duplicate external service {name!r} in namespace {namespace!r} "
                        f"(also externalServices[{seen[(namespace, name)]}])",
                    )
                seen.setdefault((namespace, name), i)
            external_name = as_str(service.get("externalName"))
            if external_name is not None and is_ip(external_name):
                self.report(
                    (*base, "externalName"),
                    f"must be a DNS name, not the IP address {external_name}; "
                    "use addresses and ports for an IP",
                )
            for j, address in enumerate(as_list(service.get("addresses"))):
                ip = self._ip((*base, "addresses", j), address)
                if ip is not None:
                    self._special((*base, "addresses", j), ip, "an endpoint")
            self._unique_ports(base, as_list(service.get("ports")), "port")
        return seen

    def _unique_ports(self, base: PathKey, ports: list[Any], number_key: str) -> None:
        numbers: dict[tuple[int, str], int] = {}
        names: dict[str, int] = {}
        for j, raw in enumerate(ports):
            entry = {number_key: raw} if as_int(raw) is not None else as_dict(raw)
            number = as_int(entry.get(number_key))
            protocol = str(entry.get("protocol", "TCP"))
            if number is not None:
                if (number, protocol) in numbers:
                    self.report(
                        (*base, "ports", j),
                        f"port {number}/{protocol} is listed twice "
                        f"(also ports[{numbers[(number, protocol)]}])",
                    )
                numbers.setdefault((number, protocol), j)
            name = as_str(entry.get("name"))
            if name is not None:
                if name in names:
                    self.report(
                        (*base, "ports", j, "name"),
                        f"duplicate port name {name!r} (also ports[{names[name]}])",
                    )
                names.setdefault(name, j)

    def apps(
        self,
        apps: list[Any],
        services: dict[tuple[str, str], int],
        secrets: dict[tuple[str, str], dict[str, Any]],
    ) -> None:
        seen: dict[tuple[str, str], int] = {}
        routes: dict[tuple[str, str], int] = {}
        for i, raw in enumerate(apps):
            app = as_dict(raw)
            base = ("spec", "apps", i)
            name = as_str(app.get("name"))
            namespace = as_str(app.get("namespace", "default")) or "default"
            if name is not None:
                self._app_identity((*base, "name"), (namespace, name), i, seen, services)
            image = as_str(app.get("image"))
            if image is not None:
                self._image((*base, "image"), image)
            self._unique_ports(base, as_list(app.get("ports")), "containerPort")
            self._resources((*base, "resources"), app.get("resources"))
            self._env((*base, "env"), as_list(app.get("env")), namespace, secrets)
            self._init_containers(base, app, name, namespace, secrets)
            for j, alias in enumerate(as_list(app.get("hostAliases"))):
                self._ip((*base, "hostAliases", j, "ip"), as_dict(alias).get("ip"))
            self._app_ingress(base, app, namespace, secrets, routes)
            self._overlay_paths((*base, "overlays"), as_list(app.get("overlays")))

    def _app_identity(
        self,
        path: PathKey,
        ident: tuple[str, str],
        index: int,
        seen: dict[tuple[str, str], int],
        services: dict[tuple[str, str], int],
    ) -> None:
        """An app is one Deployment and one Service: unique in its namespace, and not the
        name of an external service there."""
        namespace, name = ident
        if ident in seen:
            self.report(
                path,
                f"duplicate app {name!r} in namespace {namespace!r} (also apps[{seen[ident]}])",
            )
        elif ident in services:
            self.report(
                path,
                f"externalServices[{services[ident]}] already defines a Service "
                f"{name!r} in namespace {namespace!r}",
            )
        seen.setdefault(ident, index)

    def _init_containers(
        self,
        base: PathKey,
        app: dict[str, Any],
        name: str | None,
        namespace: str,
        secrets: dict[tuple[str, str], dict[str, Any]],
    ) -> None:
        containers = {name} if name else set()
        for j, raw_init in enumerate(as_list(app.get("initContainers"))):
            init = as_dict(raw_init)
            init_path = (*base, "initContainers", j)
            init_name = as_str(init.get("name"))
            if init_name is not None:
                if init_name in containers:
                    self.report(
                        (*init_path, "name"),
                        f"container name {init_name!r} is already used in this app "
                        "(the app's own container is named after the app)",
                    )
                containers.add(init_name)
            init_image = as_str(init.get("image"))
            if init_image is not None:
                self._image((*init_path, "image"), init_image)
            self._env((*init_path, "env"), as_list(init.get("env")), namespace, secrets)

    def _overlay_paths(self, base: PathKey, overlays: list[Any]) -> None:
        for j, overlay in enumerate(overlays):
            text = as_str(overlay)
            if text is None:
                continue
            if not text.startswith("overlays/"):
                self.report((*base, j), f"{text!r} must be a file under overlays/")
            else:
                self._source((*base, j), text)

    def _env(
        self,
        base: PathKey,
        env: list[Any],
        namespace: str,
        secrets: dict[tuple[str, str], dict[str, Any]],
    ) -> None:
        names: dict[str, int] = {}
        for j, raw in enumerate(env):
            name = as_str(as_dict(raw).get("name"))
            if name is not None:
                if name in names:
                    self.report(
                        (*base, j, "name"),
                        f"duplicate environment variable {name!r} (also env[{names[name]}])",
                    )
                names.setdefault(name, j)
            value = as_dict(raw).get("value")
            if isinstance(value, str) and len(value) > MAX_ENV_VALUE_BYTES // 4:
                size = len(value.encode("utf-8", "surrogateescape"))
                if size > MAX_ENV_VALUE_BYTES:
                    self.report(
                        (*base, j, "value"),
                        f"is {size} bytes; the Deployment holding it must stay under 1.5 MiB "
                        "(etcd's request limit), so an env value may be at most "
                        f"{MAX_ENV_VALUE_BYTES} bytes",
                    )
            ref = as_dict(as_dict(as_dict(raw).get("valueFrom")).get("secretKeyRef"))
            secret_name, key = as_str(ref.get("name")), as_str(ref.get("key"))
            secret = secrets.get((namespace, secret_name or ""))
            if secret is None or key is None:
                continue  # a Secret made outside kgit is fine
            keys = as_dict(secret.get("fromEnv"))
            if key not in keys:
                self.report(
                    (*base, j, "valueFrom", "secretKeyRef", "key"),
                    f"secret {secret_name!r} has no key {key!r} "
                    f"(it has: {', '.join(sorted(keys))})",
                )

    def _app_ingress(
        self,
        base: PathKey,
        app: dict[str, Any],
        namespace: str,
        secrets: dict[tuple[str, str], dict[str, Any]],
        routes: dict[tuple[str, str], int],
    ) -> None:
        if "ingress" not in app:
            return
        ingress = as_dict(app.get("ingress"))
        path = (*base, "ingress")
        ports = as_list(app.get("ports"))
        if not ports:
            self.report(
                path,
                "needs ports: the Ingress routes to the app's Service, which exists only "
                "when ports are set",
                key=True,
            )
        # A bare number is a TCP port (as_dict gives {} for it, protocol then TCP).
        elif all(as_dict(port).get("protocol", "TCP") != "TCP" for port in ports):
            self.report(
                path,
                "needs a TCP port: the Ingress routes HTTP to the app's first TCP port",
                key=True,
            )
        host = as_str(ingress.get("host"))
        if host is not None and is_ip(host):
            self.report((*path, "host"), f"must be a DNS name, not the IP address {host}")
        url_path = as_str(ingress.get("path", "/"))
        if host is not None and url_path is not None:
            route = (host, url_path)
            if route in routes:
                self.report(
                    (*path, "path"),
                    f"{host}{url_path} is already routed to apps[{routes[route]}]",
                )
            routes.setdefault(route, int(base[-1]))
        tls = as_str(ingress.get("tlsSecret"))
        secret = secrets.get((namespace, tls or ""))
        if secret is not None and secret.get("type") != "kubernetes.io/tls":
            self.report(
                (*path, "tlsSecret"),
                f"secret {tls!r} must have type kubernetes.io/tls to hold a certificate",
            )
        elif secret is not None and not as_dict(secret.get("fromEnv")).keys() >= TLS_KEYS:
            self.report((*path, "tlsSecret"), f"secret {tls!r} needs the keys tls.crt and tls.key")
