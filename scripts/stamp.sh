# Sourced by scripts/release.sh and scripts/container.sh (sh): sets
#   version       the tag ($stamp_version if set, else git describe --tags --always --dirty, else "dev")
#   commit_epoch  the commit's time in Unix seconds (0 outside a checkout)
#   stamp_ldflags -X flags that write the version, the commit (git rev-parse HEAD), the
#                 commit's time (RFC 3339, UTC) and whether the checkout had changes into
#                 internal/version.
# The builds use -buildvcs=false with these flags: the Go toolchain stamps nothing from a
# git worktree (its .git is a file) and nothing when GOFLAGS says -buildvcs=false, and the
# binary must not depend on how the checkout was made.
stamp_pkg=github.com/ringside/ringside/internal/version
version=${stamp_version:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
stamp_commit=$(git rev-parse HEAD 2>/dev/null || echo "")
commit_epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
stamp_date=
stamp_modified=
if [ -n "$stamp_commit" ]; then
  stamp_date=$(date -u -d "@$commit_epoch" +%Y-%m-%dT%H:%M:%SZ)
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    stamp_modified=true
  fi
fi
stamp_ldflags="-X $stamp_pkg.Version=$version -X $stamp_pkg.commit=$stamp_commit -X $stamp_pkg.date=$stamp_date -X $stamp_pkg.modified=$stamp_modified"
