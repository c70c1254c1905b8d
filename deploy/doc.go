// Package deploy holds what runs shp on Google Cloud: the Terraform module
// (deploy/terraform), the Helm chart for GKE (deploy/helm/shp), the sample
// project the container image serves (deploy/project) and their
// documentation (deploy/README.md). It has no code of its own: its tests
// check, without a Docker engine, Terraform, Helm, a cluster or a cloud
// account, the repository's Dockerfile (dockerfile_test.go), that the
// binary it builds runs on the runtime base's glibc, the Terraform files
// (terraform_test.go) and the chart, rendered with Helm's SDK
// (helm_test.go).
package deploy
