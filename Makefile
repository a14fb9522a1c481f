# make dist: the release artifact dist/cnb-lifecycle-<version>-linux-x86-64.tgz (a lifecycle
# archive with self-contained exporter and rebaser executables, a PyInstaller one-folder build
# flat in lifecycle/; see release/build_dist.py).
# make dist LIFECYCLE=lifecycle-v0.x+linux.x86-64.tgz also writes our two phases over that
# lifecycle archive (pack requires every phase in a builder's lifecycle).
.PHONY: dist
dist:
	python3 release/build_dist.py $(if $(LIFECYCLE),--with-lifecycle $(LIFECYCLE))
