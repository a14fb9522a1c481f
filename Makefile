# make dist: the release artifact dist/cnb-lifecycle-<version>-linux-x86-64.tgz (a lifecycle
# archive with self-contained exporter and rebaser executables; see release/build_dist.py).
.PHONY: dist
dist:
	python3 release/build_dist.py
