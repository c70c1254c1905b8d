terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.5, < 4.0"
    }
  }

  # Keep the state in a bucket of its own: it holds the metadata store's
  # password and the webhook URL. Create the bucket first (deploy/README.md),
  # then uncomment and run terraform init.
  # backend "gcs" {
  #   bucket = "PROJECT-tfstate"
  #   prefix = "shp"
  # }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
