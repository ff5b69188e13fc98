#!/usr/bin/env bash
# Adds every public symbol the PublicApiAnalyzers report as undeclared (RS0016) to the project's
# PublicAPI.Unshipped.txt, and drops declared symbols that no longer exist (RS0017). Review the diff: the public
# API changes on purpose only.
set -euo pipefail
export LC_ALL=C  # one sort order on every machine
cd "$(dirname "$0")/.."
for project in src/*/; do
    name=$(basename "$project")
    file="$project/PublicAPI.Unshipped.txt"
    log=$(dotnet build "$project/$name.csproj" -nologo -v q -p:TreatWarningsAsErrors=false 2>&1 || true)
    grep -o "RS0016: Symbol '[^']*'" <<<"$log" | sed "s/RS0016: Symbol '//; s/'\$//" | sort -u >> "$file" || true
    { grep -o "RS0017: Symbol '[^']*'" <<<"$log" || true; } | sed "s/RS0017: Symbol '//; s/'\$//" | sort -u | while IFS= read -r gone; do
        grep -vxF -- "$gone" "$file" > "$file.tmp" || true
        mv "$file.tmp" "$file"
    done
    { head -n 1 "$file"; tail -n +2 "$file" | sort -u; } > "$file.tmp" && mv "$file.tmp" "$file"
done
