#!/usr/bin/env python3
"""Validate Kubernetes objects against the official OpenAPI schemas (kubernetes-validate, strict mode).

usage: scripts/validate-k8s-object.py [-k VERSION] [--label TEXT] [-q] [FILE ...]

Each FILE ("-" or none: stdin) holds JSON -- one object, an array of objects, or a `kind: List` -- or YAML with one
or more documents (JSON is YAML, so both parse). Objects may carry only `metadata.generateName`, as the Jobs and
ConfigMaps the reconciler builds do: the library call used here does not need a name (the kubernetes-validate
command line crashes on those).

Prints one line per object:  "ok   <label> Kind namespace/name"  or  "FAIL <label> Kind namespace/name: <path>: <why>".
Exit status: 0 every object is valid; 1 some object is invalid or has no schema (unknown kind); 2 bad input or
the validator could not be installed.

kubernetes-validate==1.37.0 is installed with pip when missing (set KUBERNETES_VALIDATE_NO_INSTALL=1 to forbid).
"""

import argparse
import importlib
import json
import os
import subprocess
import sys

PINNED = "kubernetes-validate==1.37.0"
DEFAULT_VERSION = "1.37.0"


def load_validator():
    """Import kubernetes_validate, installing the pinned version with pip if it is missing."""
    try:
        return importlib.import_module("kubernetes_validate")
    except ImportError:
        if os.environ.get("KUBERNETES_VALIDATE_NO_INSTALL") == "1":
            raise SystemExit(f"kubernetes_validate is not installed: python3 -m pip install {PINNED}")
        print(f"installing {PINNED} ...", file=sys.stderr)
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", PINNED],
                              stdout=sys.stderr, stderr=sys.stderr)
        if done.returncode != 0:
            print(f"error: pip could not install {PINNED}", file=sys.stderr)
            sys.exit(2)
        importlib.invalidate_caches()
        return importlib.import_module("kubernetes_validate")


def parse_objects(text, source):
    """The objects in one input: JSON first (object, array, List), else YAML documents."""
    try:
        data = [json.loads(text)]
    except ValueError:
        import yaml  # a dependency of kubernetes-validate
        try:
            data = list(yaml.safe_load_all(text))
        except yaml.YAMLError as error:
            raise ValueError(f"{source}: neither JSON nor YAML: {error}")
    objects = []

    def add(item):
        if item is None:  # an empty YAML document
            return
        if isinstance(item, list):
            for element in item:
                add(element)
        elif isinstance(item, dict) and str(item.get("kind", "")).endswith("List") and "items" in item:
            for element in item.get("items") or []:
                add(element)
        elif isinstance(item, dict):
            objects.append(item)
        else:
            raise ValueError(f"{source}: expected an object, got {type(item).__name__}")

    for document in data:
        add(document)
    return objects


def describe(obj):
    """Kind namespace/name, with `prefix*` for an object that only has generateName."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name") or (f"{meta['generateName']}*" if meta.get("generateName") else "<no name>")
    namespace = meta.get("namespace")
    return f"{obj.get('kind', '<no kind>')} {namespace + '/' if namespace else ''}{name}"


def validate_object(kv, obj, version):
    """None when valid, else a one-line reason."""
    if not isinstance(obj.get("apiVersion"), str) or not isinstance(obj.get("kind"), str):
        return "apiVersion and kind are required strings"
    try:
        kv.validate(obj, version, strict=True)
        return None
    except kv.ValidationError as error:
        path = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in error.absolute_path)
        return f"{path.replace('.[', '[') or '<root>'}: {error.message}"
    except kv.SchemaNotFoundError as error:
        return error.message
    except Exception as error:  # VersionNotSupportedError, InvalidSchemaError, referencing errors
        return getattr(error, "message", None) or f"{type(error).__name__}: {error}"


def validate_objects(objects, version="1.37.0", label="", quiet=False, out=sys.stdout, kv=None):
    """Validate and print one line per object; returns the number of invalid objects. Importable helper."""
    kv = kv or load_validator()
    failures = 0
    prefix = f"{label} " if label else ""
    for obj in objects:
        reason = validate_object(kv, obj, version)
        if reason is None:
            if not quiet:
                print(f"ok   {prefix}{describe(obj)}", file=out)
        else:
            failures += 1
            print(f"FAIL {prefix}{describe(obj)}: {reason}", file=out)
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", default=["-"], help='JSON or YAML files; "-" or none for stdin')
    parser.add_argument("-k", "--kubernetes-version", default=DEFAULT_VERSION,
                        help=f"Kubernetes version whose schemas to use (default {DEFAULT_VERSION})")
    parser.add_argument("--label", default="", help="text printed before each object (e.g. the file rendered)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print failures only")
    args = parser.parse_args(argv)

    objects = []
    for path in args.files:
        try:
            text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
            objects.extend(parse_objects(text, "stdin" if path == "-" else path))
        except (OSError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    if not objects:
        print("error: no Kubernetes object in the input", file=sys.stderr)
        return 2
    kv = load_validator()
    return 1 if validate_objects(objects, args.kubernetes_version, args.label, args.quiet, kv=kv) else 0


if __name__ == "__main__":
    sys.exit(main())
