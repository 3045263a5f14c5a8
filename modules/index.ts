/**
 * lambdaship's constructs, for use in any CDKTF project: each takes typed, documented props of its
 * own (nothing from this app's env files), raises PropError naming the prop it refuses, and reads
 * the machine only through a MachineProbe. `LambdaStack` (modules/stack) is this app's own
 * composition of them from `envs/<env>.ts`, and is not part of this API.
 */
export { ManagedFunction } from "./lambda_function";
export type {
  AsyncInvokeSettings, Deployment, FunctionCode, FunctionDefinition, FunctionNeeds, FunctionOptions, FunctionSettings, IFunction, ILambdaTarget, ManagedFunctionProps, PolicyStatement, RoleChoice,
} from "./lambda_function";
export type { FunctionUrlOptions } from "./lambda_function/url";
export type { PolicyTemplateOptions } from "./lambda_function/policy-templates";
export { FolderFunction } from "./folder_function";
export type { FolderFunctionProps } from "./folder_function";
export { RustLambda, RustWorkspace, RUST_RUNTIME } from "./rust_lambda";
export type { RustArtifact, RustFunctionProps, RustLambdaProps, RustWorkspaceProps } from "./rust_lambda";
export { DependencyLayers, LayerBuilder } from "./layer_builder";
export type { DependencyLayersProps, FunctionLayer, ILayer, LayerBuilderProps, LayerOptions } from "./layer_builder";
export { WebsocketLambda, CONNECTION_INDEX, TTL_ATTRIBUTE } from "./websocket_lambda";
export type { WebsocketLambdaProps } from "./websocket_lambda";
export { HttpApi } from "./http_api";
export type { HttpApiCors, HttpApiProps, HttpApiRoute } from "./http_api";
export { ScheduleTrigger, SqsTrigger, scheduleExpressionProblem, httpRouteProblem, rateMillis } from "./triggers";
export type { ScheduleTriggerProps, SqsTriggerProps } from "./triggers";
export { applyTimeBuilder } from "./apply_builder";
export type { ApplyTimeBuilderProps } from "./apply_builder";
export { resetMachine, thisMachine } from "./machine";
export type { MachineProbe, ZipSize } from "./machine";
export { ConfigError, PropError } from "./errors";
