terraform {
  # 1.9: variable validations that refer to other variables (the construct's cross-prop rules).
  required_version = ">= 1.9"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.27: logging_config on aws_lambda_function (and aws_lambda_invocation lifecycle_scope).
      # 6.x: the module reads no attribute 6 deprecates (the upgrade guide's list: aws_region name).
      version = ">= 5.27, < 7"
    }
  }
}
