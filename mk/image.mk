# Container image targets; included from the Makefile (`include mk/image.mk`).
# Both scripts use podman and work without registry access (see scripts/image.sh).

IMAGE ?= localhost/perfect:dev

.PHONY: image image-test

image: ## Build the container image with podman (IMAGE, VERSION, GO_IMAGE, RUNTIME_IMAGE)
	IMAGE="$(IMAGE)" VERSION="$(VERSION)" ./scripts/image.sh

image-test: ## Build the image, run it on a volume and check health, webhook, user, restart, size
	IMAGE="$(IMAGE)" VERSION="$(VERSION)" ./scripts/image-test.sh
