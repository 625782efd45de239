// Package deploy has no code: its tests check the deployment files at the
// repository root. docker-compose.coolify.yml is loaded with the compose
// specification's own Go loader (the one docker compose uses), and the
// Dockerfile and .dockerignore are read as text. scripts/image-test.sh builds
// and runs the image itself.
package deploy
