"""The Apache Kafka broker's jars and the JVM that runs them, resolved from Maven Central once.

``deploy/local/kafka/pom.xml`` lists the broker artifacts and pins the version (``kafka.version``). Maven's
``dependency:copy-dependencies`` copies their runtime classpath into a cache outside the repository
(``$RAPPORT_KAFKA_CACHE``, default ``~/.cache/rapport/kafka``), one directory per version and pom content;
a directory is used only once it is complete (a marker file written last), so an interrupted fetch is simply
fetched again. Concurrent callers (parallel test sessions, a launcher) take a file lock and fetch once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: the committed Maven project; the package is installed editable from the repository
POM = Path(os.environ.get("RAPPORT_KAFKA_POM") or Path(__file__).resolve().parents[2] / "kafka" / "pom.xml")
_COMPLETE = ".complete"
MIN_JAVA = 17


class KafkaSetupError(RuntimeError):
    """The JDK, Maven or the jars are missing; the message says how to get them."""


@dataclass(frozen=True)
class KafkaDistribution:
    """A resolved broker: its version, its classpath directory and the ``java`` to run it with."""

    version: str
    libs: Path
    java: str

    @property
    def classpath(self) -> str:
        return str(self.libs / "*")


def pinned_version(pom: Path = POM) -> str:
    """The ``kafka.version`` property of the committed pom (the single pinned version)."""
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text())
    if match is None:
        raise KafkaSetupError(f"{pom} has no <kafka.version> property")
    return match.group(1).strip()


def cache_root() -> Path:
    return Path(os.environ.get("RAPPORT_KAFKA_CACHE") or Path.home() / ".cache" / "rapport" / "kafka")


def find_java() -> str:
    """``$RAPPORT_JAVA``, else ``$JAVA_HOME/bin/java``, else ``java`` on PATH; must be Java 17 or newer."""
    candidates = [os.environ.get("RAPPORT_JAVA")]
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    candidates.append(shutil.which("java"))
    java = next((c for c in candidates if c and Path(c).exists()), None)
    if java is None:
        raise KafkaSetupError(
            "no Java found: Apache Kafka needs a JDK 17+ (Debian: apt-get install openjdk-17-jdk-headless; "
            "./rapport test installs it when run as root), or set RAPPORT_JAVA / JAVA_HOME"
        )
    major = java_major(java)
    if major < MIN_JAVA:
        raise KafkaSetupError(f"{java} is Java {major}; Apache Kafka 4 needs Java {MIN_JAVA}+ (set RAPPORT_JAVA)")
    return java


def java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        raise KafkaSetupError(f"cannot read the version of {java}: {out.strip()[:200]}")
    first = int(match.group(1))
    return int(match.group(2) or 0) if first == 1 else first


def resolve(pom: Path = POM) -> KafkaDistribution:
    """The broker's jars (fetched with Maven when not cached yet) and a suitable ``java``."""
    java = find_java()
    version = pinned_version(pom)
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    target = cache_root() / f"{version}-{digest}"
    if not (target / _COMPLETE).exists():
        _fetch(pom, target)
    return KafkaDistribution(version=version, libs=target / "libs", java=java)


def _fetch(pom: Path, target: Path) -> None:
    mvn = os.environ.get("RAPPORT_MVN") or shutil.which("mvn")
    if mvn is None:
        raise KafkaSetupError(
            "Maven (mvn) is needed once to fetch the Apache Kafka jars (Debian: apt-get install maven; "
            "./rapport test installs it when run as root), or set RAPPORT_MVN"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be fetching the same jars
        if (target / _COMPLETE).exists():
            return
        staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=target.parent))
        try:
            result = subprocess.run(
                [
                    mvn,
                    "-q",
                    "-B",
                    "-f",
                    str(pom),
                    "dependency:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={staging / 'libs'}",
                ],
                capture_output=True,
                text=True,
                timeout=900,
            )
            if result.returncode != 0 or not any((staging / "libs").glob("kafka_2.13-*.jar")):
                output = (result.stdout + result.stderr).strip().splitlines()[-15:]
                raise KafkaSetupError(
                    f"mvn dependency:copy-dependencies failed for {pom} (exit {result.returncode}); "
                    "is Maven Central reachable?\n" + "\n".join(output)
                )
            (staging / _COMPLETE).write_text(pinned_version(pom) + "\n")
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
