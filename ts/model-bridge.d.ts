export declare function isLanguageModel(m: any): boolean;
/** A thrown error → the bridge's error answer (`statusCode` keeps AI SDK APICallErrors retryable). */
export declare function errorAnswer(err: any): {
    error: {
        message: string;
        status?: number;
        body?: string;
        retryAfterMs?: number;
    };
};
/** The function handed to `BindingModel.bridge` for one model object. */
export declare function makeBridge(model: any): (op: string) => Promise<string>;
