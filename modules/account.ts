import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { TerraformStack } from "cdktf";
import { Construct } from "constructs";

/** Account and partition of the stack, looked up once per stack (`account-context`). */
export class AccountContext extends Construct {
  public readonly accountId: string;
  public readonly partition: string;

  static of(scope: Construct): AccountContext {
    const stack = TerraformStack.of(scope);
    return (stack.node.tryFindChild("account-context") as AccountContext | undefined) ?? new AccountContext(stack, "account-context");
  }

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    this.accountId = new DataAwsCallerIdentity(this, "caller").accountId;
    this.partition = new DataAwsPartition(this, "partition").partition;
  }
}

/** The deploying account's ID (a data source of the stack). */
export function accountId(scope: Construct): string {
  return AccountContext.of(scope).accountId;
}
