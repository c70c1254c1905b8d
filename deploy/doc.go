// Package deploy holds what runs shp on Google Cloud: the Terraform module
// (deploy/terraform), the sample project the container image serves
// (deploy/project) and their documentation (deploy/README.md). It has no
// code of its own: its tests check, without a Docker engine, Terraform or a
// cloud account, the repository's Dockerfile (dockerfile_test.go), that the
// binary it builds runs on the runtime base's glibc, and the Terraform
// files (terraform_test.go).
package deploy
