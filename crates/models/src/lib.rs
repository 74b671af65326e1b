//! The models: the linear softmax classifier and the MLP (filled by the training issue).
