# autoheal for the groups named on the command line, with every other setting at its default:
#
#   npm run build            # in the autoheal folder: writes dist/lambda.zip, the healer's archive
#   terraform init && terraform apply -var 'group_names=["my-workers"]' [-var dry_run=true]
#
# or with the values in terraform.tfvars; a name there that this configuration does not declare
# stops the plan (Terraform itself would only warn and apply without it).
#
# The provider takes the standard AWS environment (AWS_REGION, AWS_PROFILE or credentials,
# AWS_ENDPOINT_URL); nothing else is needed.

terraform {
  required_version = ">= 1.9"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.27, < 7"
    }
  }
}

provider "aws" {}

variable "group_names" {
  description = "The Auto Scaling groups autoheal manages by name (groups with the tag autoheal:enabled=true are managed too)."
  type        = list(string)
}

variable "notification_email" {
  description = "An e-mail address subscribed to the alert topic."
  type        = string
  default     = null
}

variable "dry_run" {
  description = "Decide and log, but never call SetInstanceHealth."
  type        = bool
  default     = false
}

locals {
  # Terraform refuses a -var of a name this root does not declare, but a value in a .tfvars file
  # only warns ("Value for undeclared variable") and the apply goes on without it: a mistyped
  # dry_run would deploy a live healer. So the files Terraform loads by itself are read here, and
  # a name this root does not declare stops the plan (terraform_data.variables below), naming the
  # nearest one it declares. A file given with -var-file is not seen: read Terraform's warnings.
  declared_variables = ["group_names", "notification_email", "dry_run"]
  variable_files = setunion(
    fileset(path.root, "terraform.tfvars"), fileset(path.root, "*.auto.tfvars"),
    fileset(path.root, "terraform.tfvars.json"), fileset(path.root, "*.auto.tfvars.json"),
  )
  # A .tfvars file's names are its assignments at the start of a line (as terraform fmt writes them).
  given_variables = flatten([for f in local.variable_files : [
    for name in(endswith(f, ".json")
      ? keys(jsondecode(file("${path.root}/${f}")))
      : [for m in regexall("(?m)^([A-Za-z_][A-Za-z0-9_-]*)[ \t]*=", file("${path.root}/${f}")) : m[0]]
    ) : { file = f, name = name } if !contains(local.declared_variables, name)
  ]])
  # The nearest declared name: the most letter pairs in common, case, "-" and "_" aside.
  letter_pairs = { for name in concat(local.declared_variables, local.given_variables[*].name) : name => toset([
    for i in range(max(length(replace(lower(name), "/[-_]/", "")) - 1, 0)) : substr(replace(lower(name), "/[-_]/", ""), i, 2)
  ]) }
  likeness = { for v in local.given_variables : v.name => [
    for d in local.declared_variables : length(setintersection(local.letter_pairs[v.name], local.letter_pairs[d])) / max(length(local.letter_pairs[v.name]) + length(local.letter_pairs[d]), 1)
  ] }
  unknown_variables = [for v in local.given_variables :
    "${v.file}: \"${v.name}\" is not a variable of this configuration; did you mean ${local.declared_variables[index(local.likeness[v.name], max(local.likeness[v.name]...))]}?"
  ]
}

resource "terraform_data" "variables" {
  lifecycle {
    precondition {
      condition     = length(local.unknown_variables) == 0
      error_message = "${join("\n", local.unknown_variables)}\n(it declares ${join(", ", local.declared_variables)})"
    }
  }
}

module "autoheal" {
  # From an installed package: source = "./node_modules/autoheal/deploy/terraform"
  source             = "../../deploy/terraform"
  group_names        = var.group_names
  notification_email = var.notification_email
  dry_run            = var.dry_run
}

output "alert_topic_arn" {
  value = module.autoheal.alert_topic_arn
}

output "healer_function_name" {
  value = module.autoheal.healer_function_name
}

output "healer_log_group_name" {
  value = module.autoheal.healer_log_group_name
}

output "stack_health_topic_arn" {
  value = module.autoheal.stack_health_topic_arn
}

output "dashboard_name" {
  value = module.autoheal.dashboard_name
}
