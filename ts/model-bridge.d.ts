export declare function isLanguageModel(m: any): boolean;
/** The function handed to `BindingModel.bridge` for one model object. */
export declare function makeBridge(model: any): (op: string) => Promise<string>;
