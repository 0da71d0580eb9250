#!/bin/sh
# Builds the two Pilotfish images from the repository's Dockerfile and pushes them:
#   deploy/build-images.sh REPOSITORY_PREFIX [TAG]
#   e.g. deploy/build-images.sh registry.example.com/team 0.1.0
#     → registry.example.com/team/pilotfish:0.1.0       (the sidecar, target "sidecar")
#     → registry.example.com/team/pilotfish-init:0.1.0  (the init container, target "init")
# TAG defaults to the version in package.json. DOCKER=podman uses podman; PUSH=0 skips the push
# (e.g. to `kind load docker-image` the images instead).
set -eu
prefix=${1:?usage: deploy/build-images.sh REPOSITORY_PREFIX [TAG]}
cd "$(dirname "$0")/.."
tag=${2:-$(sed -n 's/^  "version": "\(.*\)",$/\1/p' package.json)}
docker=${DOCKER:-docker}
"$docker" build --target sidecar -t "$prefix/pilotfish:$tag" .
"$docker" build --target init -t "$prefix/pilotfish-init:$tag" .
if [ "${PUSH:-1}" != 0 ]; then
  "$docker" push "$prefix/pilotfish:$tag"
  "$docker" push "$prefix/pilotfish-init:$tag"
fi
echo "built $prefix/pilotfish:$tag and $prefix/pilotfish-init:$tag"
